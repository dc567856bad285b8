"""Alerts, SLO rules, Alertmanager and the Kubernetes monitoring assets stay correct.

- every alert of ``deploy/prometheus/alerts.yml`` has a promtool unit test in which it
  fires and one in which it stays quiet (``promtool test rules`` itself runs in
  test_deploy_assets.py);
- a real Prometheus (Debian package ``prometheus``, installed by
  ``scripts/ensure-system-deps.sh --test``), given the shipped external labels and the
  rules, expands every ``runbook_url`` to an absolute link;
- ``deploy/alertmanager/alertmanager.yml`` routes every severity the alerts use;
- ``deploy/k8s/monitoring/``: the PrometheusRule carries exactly the rule groups of
  alerts.yml, the dashboard ConfigMap exactly the dashboard JSON, the PodMonitors select
  the Deployments' pods and ports. ``python -m tests.unit.test_alerts`` regenerates the
  two generated files.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yml"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "kmidi-overview.json"
K8S = ROOT / "deploy" / "k8s"
MONITORING = K8S / "monitoring"
COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS_CONFIGS = ("prometheus.yml", "prometheus-compose.yml", "prometheus-k8s.yml")
JOBS = ("kmidi-ingress", "kmidi-worker", "kmidi-audio", "kmidi-results")
GENERATED_HEADER = (
    "# Generated from {source} by `.venv/bin/python -m tests.unit.test_alerts`;\n"
    "# edit the source and regenerate (tests/unit/test_alerts.py fails while they differ).\n"
)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> list[dict[str, Any]]:
    groups = load_yaml(ALERTS)["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


# -- every alert is tested both ways -----------------------------------------------------


def test_every_alert_has_a_firing_and_a_quiet_promtool_test() -> None:
    tests = load_yaml(ALERT_TESTS)
    assert tests["rule_files"] == ["alerts.yml"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - fires == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown staying quiet"
    assert fires | quiet <= names, "tests of alerts that do not exist"


def test_burn_rate_alerts_use_the_documented_windows_and_budgets() -> None:
    # The figures of docs/operations.md#service-level-objectives, read from the rules.
    expected = {
        "Fast": {("1h", "5m", "14.4"), ("6h", "30m", "6")},
        "Slow": {("1d", "2h", "3"), ("3d", "6h", "1")},
    }
    budgets = {"Availability": "0.005", "Latency": "0.01"}
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for slo, budget in budgets.items():
        for speed, windows in expected.items():
            (rule,) = [r for r in alert_rules() if r["alert"] == f"Kmidi{slo}Budget{speed}Burn"]
            expr = " ".join(rule["expr"].split())
            recorded = f"kmidi_slo:{slo.lower()}_errors:ratio_rate"
            for long, short, rate in windows:
                factor = f"({rate} * {budget})" if rate != "1" else budget
                assert f"{recorded}{long} > {factor}" in expr, (rule["alert"], long)
                assert f"{recorded}{short} > {factor}" in expr, (rule["alert"], short)
            assert rule["labels"]["severity"] == ("page" if speed == "Fast" else "ticket")
    assert "99.5%" in operations
    assert "99% of results are readable within 10 s" in operations


# -- runbook_url on a real Prometheus ----------------------------------------------------


def external_labels(config: str) -> dict[str, str]:
    labels: dict[str, str] = load_yaml(PROMETHEUS / config)["global"]["external_labels"]
    return labels


def test_every_prometheus_config_sets_an_absolute_runbook_base() -> None:
    bases = {
        config: external_labels(config).get("runbook_base_url") for config in PROMETHEUS_CONFIGS
    }
    for config, base in bases.items():
        assert base, f"{config} has no external label runbook_base_url"
        url = urlparse(base)
        assert url.scheme in {"http", "https"}, (config, base)
        assert url.netloc, (config, base)
        assert not base.endswith("/"), "the rules add /docs/…"
    # The local and compose Prometheus serve docs/ themselves (--web.user-assets), on the
    # port both publish on the host; a cluster's base must be set by whoever deploys it.
    local = "http://127.0.0.1:9090/user"
    assert bases["prometheus.yml"] == bases["prometheus-compose.yml"] == local
    compose = load_yaml(ROOT / "docker-compose.yml")["services"]["prometheus"]
    assert "--web.user-assets=/etc/prometheus/user-assets" in compose["command"]
    assert "./docs:/etc/prometheus/user-assets/docs:ro" in compose["volumes"]
    assert "127.0.0.1:9090:9090" in compose["ports"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def prometheus_alerts(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """The active alerts of a real Prometheus running alerts.yml with no target at all, and
    its port; it serves docs/ as user assets, as the local stack's Prometheus does.

    Without targets, the three KmidiJobAbsent rules are active at the first evaluation
    (pending: their ``for`` has not passed); Prometheus expands annotations then too.
    """
    binary = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
    )
    if binary is None:
        pytest.fail(
            "prometheus is not installed: run scripts/ensure-system-deps.sh --test "
            "(Debian: apt-get install prometheus). This check must not be skipped."
        )
    directory = tmp_path_factory.mktemp("prometheus")
    shutil.copy(ALERTS, directory / "alerts.yml")
    # As docs/operations.md says for the local stack: user assets holding docs/ alone.
    (directory / "assets").mkdir()
    (directory / "assets" / "docs").symlink_to(ROOT / "docs")
    config = {
        "global": {
            "evaluation_interval": "1s",
            "external_labels": external_labels("prometheus.yml"),
        },
        "rule_files": ["alerts.yml"],
    }
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.user-assets={directory / 'assets'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        alerts: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            if process.poll() is not None:
                assert process.stderr is not None
                pytest.fail(f"prometheus exited:\n{process.stderr.read().decode()[-3000:]}")
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/v1/alerts", timeout=2
                ) as answer:
                    alerts = json.load(answer)["data"]["alerts"]
            except OSError:
                alerts = []
            if len(alerts) >= len(JOBS):
                break
            time.sleep(0.2)
        yield alerts, port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_runbook_urls_are_absolute_on_a_real_prometheus(
    prometheus_alerts: tuple[list[dict[str, Any]], int],
) -> None:
    alerts, _ = prometheus_alerts
    base = external_labels("prometheus.yml")["runbook_base_url"]
    absent = {a["labels"]["job"]: a for a in alerts if a["labels"]["alertname"] == "KmidiJobAbsent"}
    assert set(absent) == set(JOBS), alerts
    for alert in absent.values():
        assert alert["state"] == "pending"
        assert alert["annotations"]["runbook_url"] == f"{base}/docs/operations.md#kmidijobabsent"
        assert (
            alert["annotations"]["summary"] == f"Prometheus has no {alert['labels']['job']} target"
        )


def test_runbook_links_open_the_runbook_served_by_that_prometheus(
    prometheus_alerts: tuple[list[dict[str, Any]], int],
) -> None:
    alerts, port = prometheus_alerts
    url = urlparse(alerts[0]["annotations"]["runbook_url"])
    # The shipped base names port 9090; this Prometheus listens on a free port instead.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{url.path}", timeout=5) as answer:
        served = answer.read().decode("utf-8")
    assert served == (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert f"### {alerts[0]['labels']['alertname']}" in served
    assert url.fragment == alerts[0]["labels"]["alertname"].lower()


# -- Alertmanager ------------------------------------------------------------------------


def _routes(route: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield route
    for child in route.get("routes", []):
        yield from _routes(child)


def test_alertmanager_routes_every_severity_to_a_receiver() -> None:
    config = load_yaml(ALERTMANAGER)
    receivers = {receiver["name"] for receiver in config["receivers"]}
    routes = list(_routes(config["route"]))
    assert all(route.get("receiver", config["route"]["receiver"]) in receivers for route in routes)
    severities = {rule["labels"]["severity"] for rule in alert_rules()}
    routed = {
        matcher.split("=", 1)[1].strip('"')
        for route in routes[1:]
        for matcher in route.get("matchers", [])
        if matcher.startswith("severity=")
    }
    assert severities == routed == {"page", "ticket"}
    labels = {name for rule in alert_rules() for name in rule["labels"]} | {"alertname", "job"}
    for inhibit in config["inhibit_rules"]:
        assert set(inhibit["equal"]) <= labels, inhibit
    assert set(config["route"]["group_by"]) <= labels


def test_compose_prometheus_sends_to_the_compose_alertmanager() -> None:
    services = load_yaml(COMPOSE)["services"]
    alertmanager = services["alertmanager"]
    assert (
        "./deploy/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"
        in alertmanager["volumes"]
    )
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in alertmanager["command"]
    assert "127.0.0.1:9093:9093" in alertmanager["ports"]  # every port bound to 127.0.0.1
    assert services["prometheus"]["depends_on"]["alertmanager"]["condition"] == "service_healthy"
    config = load_yaml(PROMETHEUS / "prometheus-compose.yml")
    (target,) = [
        target
        for manager in config["alerting"]["alertmanagers"]
        for static in manager["static_configs"]
        for target in static["targets"]
    ]
    assert target == "alertmanager:9093"


# -- Kubernetes: Prometheus Operator and Grafana sidecar ---------------------------------


class _BlockStrings(yaml.SafeDumper):
    """Multi-line strings (PromQL, the dashboard JSON) as readable ``|`` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStrings.add_representer(str, _represent_str)


def _dump(source: str, document: dict[str, Any]) -> str:
    body = yaml.dump(document, Dumper=_BlockStrings, sort_keys=False, width=100, allow_unicode=True)
    return GENERATED_HEADER.format(source=source) + body


def render_prometheus_rule() -> str:
    return _dump(
        "deploy/prometheus/alerts.yml",
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {
                "name": "kmidi",
                "namespace": "kmidi",
                "labels": {
                    "app.kubernetes.io/name": "kmidi",
                    "app.kubernetes.io/part-of": "kmidi",
                    "release": "kube-prometheus-stack",
                },
            },
            "spec": {"groups": load_yaml(ALERTS)["groups"]},
        },
    )


def render_dashboard_configmap() -> str:
    return _dump(
        "deploy/grafana/dashboards/kmidi-overview.json",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "kmidi-grafana-dashboard",
                "namespace": "kmidi",
                "labels": {
                    "app.kubernetes.io/name": "kmidi",
                    "app.kubernetes.io/part-of": "kmidi",
                    "grafana_dashboard": "1",  # what Grafana's dashboard sidecar looks for
                },
            },
            "data": {"kmidi-overview.json": DASHBOARD.read_text(encoding="utf-8")},
        },
    )


GENERATED = {
    "prometheusrule.yaml": render_prometheus_rule,
    "grafana-dashboard.yaml": render_dashboard_configmap,
}


@pytest.mark.parametrize("name", list(GENERATED))
def test_generated_k8s_monitoring_assets_are_current(name: str) -> None:
    committed = (MONITORING / name).read_text(encoding="utf-8")
    assert committed == GENERATED[name](), (
        f"deploy/k8s/monitoring/{name} is stale: run `.venv/bin/python -m tests.unit.test_alerts`"
    )


def test_prometheus_rule_and_dashboard_configmap_carry_their_sources() -> None:
    # Parsed back, independently of the renderer: the same groups and the same dashboard.
    rule = load_yaml(MONITORING / "prometheusrule.yaml")
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == load_yaml(ALERTS)["groups"]
    configmap = load_yaml(MONITORING / "grafana-dashboard.yaml")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    (text,) = configmap["data"].values()
    assert json.loads(text) == json.loads(DASHBOARD.read_text(encoding="utf-8"))


def test_monitoring_kustomization_lists_every_file_and_podmonitors_match_pods() -> None:
    kustomization = load_yaml(MONITORING / "kustomization.yaml")
    files = {path.name for path in MONITORING.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    deployments = {
        doc["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]: doc
        for path in K8S.glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc and doc.get("kind") == "Deployment"
    }
    monitors = [
        doc
        for doc in yaml.safe_load_all((MONITORING / "podmonitors.yaml").read_text(encoding="utf-8"))
        if doc
    ]
    jobs = set()
    for monitor in monitors:
        assert monitor["kind"] == "PodMonitor"
        assert monitor["metadata"]["namespace"] == "kmidi"
        selector = monitor["spec"]["selector"]["matchLabels"]
        component = selector["app.kubernetes.io/component"]
        pod = deployments[component]["spec"]["template"]
        assert selector.items() <= pod["metadata"]["labels"].items()
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        ports = {
            port["name"]: port["containerPort"]
            for container in pod["spec"]["containers"]
            for port in container.get("ports", [])
        }
        assert endpoint["port"] in ports
        assert str(ports[endpoint["port"]]) == pod["metadata"]["annotations"]["prometheus.io/port"]
        (relabel,) = [r for r in endpoint["relabelings"] if r["targetLabel"] == "job"]
        jobs.add(relabel["replacement"])
    assert jobs == set(JOBS)


def main() -> int:
    for name, render in GENERATED.items():
        (MONITORING / name).write_text(render(), encoding="utf-8")
        print(MONITORING / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
