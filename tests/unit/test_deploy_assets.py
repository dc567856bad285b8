"""Deployment assets stay correct: Prometheus config and alerts, Grafana, compose, Kubernetes.

Fast and broker-free. Prometheus files are checked by ``promtool`` (Debian package
``prometheus``; ``scripts/ensure-system-deps.sh --test`` installs it): without promtool
these tests fail, they never skip. Every metric an alert or a dashboard panel names must
be one the services define, read from prometheus-client's registry after importing them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from producer_api.core.config import Settings
from schemas.api_keys import KeysFileError, parse_keys
from schemas.kafka_connection import KafkaConnection
from schemas.topics import AUDIO_REQUESTS, INTENTS, PLANS, TOPICS
from service_common.auth import BindRefusedError, bind_host
from stream_processors.config import TopicReplication
from stream_processors.probe import main as probe_main
from tests.python_child import child_report

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "kmidi-overview.json"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
K8S = ROOT / "deploy" / "k8s"
OPERATIONS = ROOT / "docs" / "operations.md"

JOBS = ("kmidi-ingress", "kmidi-worker", "kmidi-audio", "kmidi-results")

# The modules whose import defines each process's metrics (the ``main`` modules build their
# FastAPI app at import time, which registers the shared HTTP metrics). One child process
# per service, as in production, so each is checked on its own (kmidi_build_info).
METRIC_MODULES: dict[str, tuple[str, ...]] = {
    "ingress": ("producer_api", "producer_api.main", "producer_api.metrics", "service_common.http"),
    "worker": ("stream_processors", "stream_processors.metrics"),
    "results": (
        "stream_processors.results_service",
        "stream_processors.results_service.main",
        "stream_processors.results_service.metrics",
        "service_common.http",
    ),
}
# Series Prometheus itself creates for every target and alert.
PROMETHEUS_BUILTIN = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
        "ALERTS",
        "ALERTS_FOR_STATE",
    }
)
DEFAULT_PREFIXES = ("process_", "python_")  # prometheus-client's default collectors


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


# -- promtool ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool") or (
        "/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None
    )
    if found is None:
        pytest.fail(
            "promtool is not installed: run scripts/ensure-system-deps.sh --test "
            "(Debian: apt-get install prometheus). These checks must not be skipped."
        )
    return found


def run_promtool(promtool: str, *args: str, cwd: Path = PROMETHEUS) -> str:
    result = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-compose.yml"])
def test_prometheus_config_passes_promtool(promtool: str, config: str) -> None:
    output = run_promtool(promtool, "check", "config", config)
    assert "SUCCESS" in output


def test_alert_rules_pass_promtool(promtool: str) -> None:
    output = run_promtool(promtool, "check", "rules", "alerts.yml")
    assert "SUCCESS" in output


def test_alert_rules_unit_tests_pass(promtool: str) -> None:
    run_promtool(promtool, "test", "rules", "alerts.test.yml")


def test_dashboard_expressions_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    # promtool parses PromQL only inside rule files: one recording rule per panel query,
    # with Grafana's variables replaced by what they expand to.
    rules = [
        {"record": f"kmidi:dashboard_query_{index}", "expr": grafana_to_promql(expr)}
        for index, (_, expr) in enumerate(dashboard_expressions(load_dashboard()))
    ]
    rule_file = tmp_path / "dashboard-queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    output = run_promtool(promtool, "check", "rules", str(rule_file), cwd=tmp_path)
    assert f"SUCCESS: {len(rules)} rules found" in output


# -- Prometheus configuration ------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "targets"),
    [
        (
            "prometheus.yml",
            ["127.0.0.1:8000", "127.0.0.1:9100", "127.0.0.1:9101", "127.0.0.1:8001"],
        ),
        ("prometheus-compose.yml", ["ingress:8000", "worker:9100", "audio:9100", "results:8001"]),
    ],
)
def test_scrape_configs_name_every_service_job(config: str, targets: list[str]) -> None:
    document = load_yaml(PROMETHEUS / config)
    assert document["rule_files"] == ["alerts.yml"]
    by_job = {job["job_name"]: job for job in document["scrape_configs"]}
    for job, target in zip(JOBS, targets, strict=True):
        assert job in by_job, f"{config} has no job {job}"
        static_targets = [t for group in by_job[job]["static_configs"] for t in group["targets"]]
        assert static_targets == [target]


def test_kubernetes_scrape_config_maps_components_to_the_same_jobs() -> None:
    # Debian's promtool is built without Kubernetes service discovery, so this file is
    # checked for structure only.
    document = load_yaml(PROMETHEUS / "prometheus-k8s.yml")
    assert document["rule_files"] == ["alerts.yml"]
    (job,) = document["scrape_configs"]
    relabel = {rule.get("target_label"): rule for rule in job["relabel_configs"]}
    assert relabel["job"]["source_labels"] == [
        "__meta_kubernetes_pod_label_app_kubernetes_io_component"
    ]
    assert relabel["job"]["replacement"] == "kmidi-$1"
    components = {
        doc["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        for doc in k8s_documents()
        if doc["kind"] == "Deployment"
    }
    assert {f"kmidi-{component}" for component in components} == set(JOBS)


# -- alerts ------------------------------------------------------------------------------


def alert_rules() -> list[dict[str, Any]]:
    groups = load_yaml(PROMETHEUS / "alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def recording_rules() -> list[dict[str, Any]]:
    groups = load_yaml(PROMETHEUS / "alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"] if "record" in rule]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub generates for the headings of ``markdown``."""
    anchors: set[str] = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        title = line.lstrip("#").strip().lower()
        anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_every_required_alert_exists() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    assert names == {
        "KmidiIngress5xxRatioHigh",
        "KmidiBrokerUnavailable",
        "KmidiDeadLettersIncreasing",
        "KmidiConsumerLagHigh",
        "KmidiTargetDown",
        "KmidiJobAbsent",
        "KmidiNoResultsWhileIntentsArrive",
        "KmidiAvailabilityBudgetFastBurn",
        "KmidiAvailabilityBudgetSlowBurn",
        "KmidiLatencyBudgetFastBurn",
        "KmidiLatencyBudgetSlowBurn",
        "KmidiResultsConsumerLagHigh",
        "KmidiResultsNotCaughtUp",
        "KmidiResultsBrokerDisconnected",
    }
    absent = [rule for rule in alert_rules() if rule["alert"] == "KmidiJobAbsent"]
    assert sorted(rule["expr"].strip() for rule in absent) == sorted(
        f'absent(up{{job="{job}"}})' for job in JOBS
    ), "one absent() alert per job"


def test_every_alert_has_annotations_and_a_runbook_section() -> None:
    anchors = github_anchors(OPERATIONS.read_text(encoding="utf-8"))
    for rule in alert_rules():
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            assert annotations.get(key), f"{rule['alert']} has no {key} annotation"
        assert rule["labels"]["severity"] in {"page", "ticket"}
        # Absolute once Prometheus expands it: the external label is the configurable base
        # (tests/unit/test_alerts.py checks the expansion on a real Prometheus).
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert path == "{{ $externalLabels.runbook_base_url }}/docs/operations.md", rule["alert"]
        assert anchor == rule["alert"].lower()
        assert anchor in anchors, f"docs/operations.md has no section #{anchor}"


# -- Grafana -----------------------------------------------------------------------------


def load_dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return document


def data_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def dashboard_expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in data_panels(dashboard)
        for target in panel["targets"]
    ]


def grafana_to_promql(expr: str) -> str:
    """Expand the dashboard's variables the way Grafana would (with "All" selected)."""
    return (
        expr.replace("$__rate_interval", "1m")
        .replace("${job}", "kmidi-.*")
        .replace("$job", "kmidi-.*")
    )


def test_dashboard_is_a_grafana_dashboard_with_variables() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] == "kmidi-overview"
    assert 36 <= dashboard["schemaVersion"] <= 41
    variables = {var["name"]: var for var in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["job"]["type"] == "query"
    assert variables["job"]["datasource"]["uid"] == "${datasource}"
    assert variables["job"]["includeAll"]
    assert variables["job"]["multi"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_every_panel_has_a_datasource_and_a_target() -> None:
    panels = list(data_panels(load_dashboard()))
    assert len(panels) >= 12
    for panel in panels:
        title = panel["title"]
        assert panel.get("datasource", {}).get("uid") == "${datasource}", title
        assert panel.get("targets"), f"panel {title!r} has no target"
        for target in panel["targets"]:
            assert target["expr"].strip(), f"panel {title!r} has an empty query"
            assert target["datasource"]["uid"] == "${datasource}", title
        # Every query of a service's metrics follows the dashboard's job selector; the SLO
        # panels read recording rules (already aggregated over the jobs) and constants.
        recorded = {rule["record"] for rule in recording_rules()}
        for target in panel["targets"]:
            if metric_names(target["expr"]) <= recorded:
                continue
            assert '{job=~"$job"' in target["expr"] or 'job=~"$job"' in target["expr"], title


def test_dashboard_covers_the_required_views() -> None:
    exprs = " ".join(expr for _, expr in dashboard_expressions(load_dashboard()))
    for needle in (
        "histogram_quantile(0.5, sum by (job, route, le) "
        "(rate(kmidi_http_request_duration_seconds_bucket",
        "histogram_quantile(0.95, sum by (job, route, le)",
        "histogram_quantile(0.99, sum by (job, route, le)",
        "kmidi_events_published_total",
        "kmidi_stage_events_in_total",
        "kmidi_stage_events_out_total",
        "histogram_quantile(0.95, sum by (stage, le) (rate(kmidi_stage_duration_seconds_bucket",
        "kmidi_stage_errors_total",
        "kmidi_deadlettered_total",
        "max by (topic, partition) (kmidi_consumer_lag",
        "histogram_quantile(0.95, sum by (job, le) "
        "(rate(kmidi_result_readable_latency_seconds_bucket",
        "histogram_quantile(0.95, sum by (job, le) "
        "(rate(kmidi_result_published_latency_seconds_bucket",
        "kmidi_build_info",
        "kmidi_results_total",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ):
        assert needle in exprs, f"no dashboard query contains {needle!r}"


def test_grafana_provisioning_points_at_the_dashboards() -> None:
    datasources = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    (datasource,) = datasources["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    providers = load_yaml(GRAFANA / "provisioning" / "dashboards" / "kmidi.yml")["providers"]
    (provider,) = providers
    mounts = load_yaml(COMPOSE)["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in mounts


# -- every metric named is one the code defines ------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_LABEL_LIST = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_IDENTIFIER = re.compile(r"(?<![\w.$])[A-Za-z_:][\w:]*")
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}
    | {"bool", "offset", "inf", "nan", "atan2"}
)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (label names and functions excluded)."""
    text = _STRING.sub('""', expr)
    text = _BRACES.sub("", text)
    text = _RANGE.sub("", text)
    text = _LABEL_LIST.sub("", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group()
        if name.lower() in _KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue  # an operator, or a function / aggregation being called
        names.add(name)
    return names


def test_metric_name_extraction() -> None:
    assert metric_names(
        'histogram_quantile(0.95, sum by (job, le) (rate(kmidi_x_bucket{job=~"$job"}'
        "[$__rate_interval]))) > 1e3"
    ) == {"kmidi_x_bucket"}
    assert metric_names(
        'sum(rate(a_total{stage="in"}[5m])) > 0 unless sum without (x) (b_total offset 5m)'
    ) == {"a_total", "b_total"}
    assert metric_names('up{job=~"kmidi-.*"} == 0') == {"up"}
    assert metric_names("max by (topic, partition) (lag) / on (topic) group_left c") == {
        "lag",
        "c",
    }


_COLLECT_DEFINED = textwrap.dedent(
    """
    import importlib, json, sys
    from prometheus_client import REGISTRY
    failed = {}
    for name in sys.argv[1:]:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    families = [[m.name, m.type] for m in REGISTRY.collect()]
    print(json.dumps({"families": families, "failed": failed}))
    """
)
# Sample names a metric family of each type exposes (prometheus-client drops ``_total``
# from a counter's family name, and adds ``_created`` series).
_SUFFIXES = {
    "counter": ("", "_total", "_created"),
    "histogram": ("", "_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("", "_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("", "_info"),
}


@pytest.fixture(scope="module")
def metrics_by_service() -> dict[str, tuple[set[str], dict[str, str]]]:
    """Per service: every sample name it can expose, and the modules that did not import.

    Each service's modules are imported in a child process of its own: they build their
    apps and configure logging at import time, which must not leak into other tests.
    """
    by_service: dict[str, tuple[set[str], dict[str, str]]] = {}
    for service, modules in METRIC_MODULES.items():
        names: set[str] = set()
        report = child_report(_COLLECT_DEFINED, *modules, what="collecting metrics")
        for family, kind in report["families"]:
            names.update(family + suffix for suffix in _SUFFIXES.get(kind, ("",)))
        by_service[service] = (names, report["failed"])
    return by_service


@pytest.fixture(scope="module")
def defined_metrics(
    metrics_by_service: dict[str, tuple[set[str], dict[str, str]]],
) -> tuple[set[str], dict[str, str]]:
    """Every sample name any service can expose, and the modules that did not import."""
    names: set[str] = set()
    failed: dict[str, str] = {}
    for service_names, service_failed in metrics_by_service.values():
        names |= service_names
        failed |= service_failed
    return names, failed


def test_every_service_exposes_its_build_info(
    metrics_by_service: dict[str, tuple[set[str], dict[str, str]]],
) -> None:
    for service, (names, failed) in metrics_by_service.items():
        assert not failed, failed
        assert "kmidi_build_info" in names, f"{service} does not define kmidi_build_info"


def referenced_metrics() -> dict[str, set[str]]:
    """metric name -> where it is used (alert names, dashboard panel titles)."""
    used: dict[str, set[str]] = {}
    recorded = {rule["record"] for rule in recording_rules()}
    for rule in alert_rules():
        for name in metric_names(rule["expr"]) - recorded:
            used.setdefault(name, set()).add(f"alert {rule['alert']}")
    for rule in recording_rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, set()).add(f"recording rule {rule['record']}")
    for title, expr in dashboard_expressions(load_dashboard()):
        for name in metric_names(expr) - recorded:
            used.setdefault(name, set()).add(f"panel {title!r}")
    return used


def test_every_referenced_metric_is_defined_by_the_code(
    defined_metrics: tuple[set[str], dict[str, str]],
) -> None:
    defined, failed_imports = defined_metrics
    used = referenced_metrics()
    assert "kmidi_http_requests_total" in used  # the extraction found the kmidi metrics
    missing = {
        name: where
        for name, where in used.items()
        if name not in defined
        and name not in PROMETHEUS_BUILTIN
        and not name.startswith(DEFAULT_PREFIXES)
    }
    lines = [f"  {name}: used by {', '.join(sorted(where))}" for name, where in missing.items()]
    lines += [
        f"  (module {module} did not import: {error})" for module, error in failed_imports.items()
    ]
    report = "metrics referenced but not defined by the code:\n" + "\n".join(sorted(lines))
    assert not missing, report
    assert not failed_imports, report


def test_default_process_metrics_are_exposed(
    defined_metrics: tuple[set[str], dict[str, str]],
) -> None:
    defined, _ = defined_metrics
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes"):
        assert name in defined


# -- docker-compose and Dockerfile -------------------------------------------------------


def test_compose_services_are_healthchecked_or_one_shot() -> None:
    services: dict[str, Any] = load_yaml(COMPOSE)["services"]
    assert set(services) >= {"kafka", "topics", "ingress", "worker", "results"}
    assert {"prometheus", "alertmanager", "grafana"} <= set(services)
    one_shot = {
        dependency
        for service in services.values()
        for dependency, condition in (service.get("depends_on") or {}).items()
        if condition["condition"] == "service_completed_successfully"
    }
    assert one_shot == {"topics"}
    for name, service in services.items():
        if name in one_shot:
            assert service["restart"] == "no", name
            continue
        check = service.get("healthcheck")
        problem = f"service {name} has no healthcheck and is not one-shot"
        assert check, problem
        assert not check.get("disable"), problem
        assert check.get("test"), problem
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert condition["condition"] in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} never gets healthy"
    for name in ("ingress", "worker", "results"):
        depends = services[name]["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy"
        assert depends["topics"]["condition"] == "service_completed_successfully"


def test_compose_kafka_is_a_single_kraft_node() -> None:
    kafka = load_yaml(COMPOSE)["services"]["kafka"]
    assert kafka["image"] == "apache/kafka:3.9.2"
    env = {key: str(value) for key, value in kafka["environment"].items()}
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:29093"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == "1", key
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(listeners) == set(protocols)
    assert set(advertised) == set(listeners) - {env["KAFKA_CONTROLLER_LISTENER_NAMES"]}
    internal = advertised[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    for name in ("topics", "ingress", "worker", "results"):
        service = load_yaml(COMPOSE)["services"][name]
        assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == internal, name


def test_compose_publishes_ports_on_loopback_without_default_secrets() -> None:
    services: dict[str, Any] = load_yaml(COMPOSE)["services"]
    published = {name: service["ports"] for name, service in services.items() if "ports" in service}
    assert {"kafka", "prometheus", "grafana"} <= set(published)
    for name, ports in published.items():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    assert not any("lifecycle" in arg for arg in services["prometheus"]["command"])
    grafana = services["grafana"]["environment"]
    # ${VAR:?message}: compose stops with the message when the variable is unset.
    assert re.fullmatch(
        r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", grafana["GF_SECURITY_ADMIN_PASSWORD"]
    )


def test_compose_services_send_traces_to_jaeger_and_grafana_reads_it() -> None:
    services = load_yaml(COMPOSE)["services"]
    for name in ("ingress", "worker", "results"):
        env = services[name]["environment"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318", name
    jaeger = services["jaeger"]
    assert jaeger["image"].startswith("jaegertracing/jaeger:2.")
    assert "receivers.otlp.protocols.http.endpoint=0.0.0.0:4318" in jaeger["command"]
    datasources = load_yaml(GRAFANA / "provisioning" / "datasources" / "jaeger.yml")
    (datasource,) = datasources["datasources"]
    assert (datasource["type"], datasource["url"]) == ("jaeger", "http://jaeger:16686")


def test_compose_mounts_exist() -> None:
    for name, service in load_yaml(COMPOSE)["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    prometheus = load_yaml(COMPOSE)["services"]["prometheus"]
    assert (
        "./deploy/prometheus/prometheus-compose.yml:/etc/prometheus/prometheus.yml:ro"
        in prometheus["volumes"]
    )


def test_the_artifact_store_is_shared_by_its_writers_and_its_server() -> None:
    # The worker writes MIDI, the audio stage audio, the results service serves both: in
    # separate containers or pods they must see one store.
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "fluidsynth fluid-soundfont-gm" in text, "the audio stage renders in the image"
    assert "ARTIFACTS_DIR=/var/lib/kmidi/artifacts" in text
    assert "chown -R 10001:10001 /var/lib/kmidi" in text
    services = load_yaml(COMPOSE)["services"]
    assert services["audio"]["command"] == ["python", "-m", "stream_processors.audio_app"]
    for name in ("worker", "audio", "results"):
        assert "artifacts:/var/lib/kmidi/artifacts" in services[name]["volumes"], name
    assert "artifacts" in load_yaml(COMPOSE)["volumes"]
    claims = {
        d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == "PersistentVolumeClaim"
    }
    assert claims["kmidi-artifacts"]["spec"]["accessModes"] == ["ReadWriteMany"]
    for name in ("kmidi-worker", "kmidi-audio", "kmidi-results"):
        pod = deployments()[name]["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["artifacts"]["persistentVolumeClaim"]["claimName"] == "kmidi-artifacts"
        (container,) = pod["containers"]
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts["artifacts"] == "/var/lib/kmidi/artifacts", name
        assert pod["securityContext"]["fsGroup"] == 10001, name


def test_dockerfile_builds_one_non_root_image_for_every_service() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    instructions = [
        line.split(None, 1)
        for line in text.replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    stages = [args for op, args in instructions if op == "FROM"]
    assert len(stages) >= 2, "multi-stage build expected"
    users = [args.strip() for op, args in instructions if op == "USER"]
    assert users, "no USER: the image would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert any(op == "HEALTHCHECK" and "urllib.request" in args for op, args in instructions)
    runs = " ".join(args for op, args in instructions if op == "RUN")
    assert "pip install --require-hashes -r requirements/runtime.lock" in runs
    assert "pip install --no-deps ." in runs, "kmidi itself must not resolve anything"
    assert "pip check" in runs
    cmd = [json.loads(args) for op, args in instructions if op == "CMD"][-1]
    assert cmd == ["python", "-m", "producer_api"]
    for op, args in instructions:  # every path copied from the context exists
        if op == "COPY" and "--from=" not in args:
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY of missing {source}"


# -- Kubernetes --------------------------------------------------------------------------


def k8s_documents() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in load_yaml_documents(path)]


def test_k8s_manifests_parse_and_are_all_listed_in_kustomization() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    files = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == files
    kinds = [doc["kind"] for doc in k8s_documents() if doc.get("kind") != "Kustomization"]
    assert kinds.count("Deployment") == 4
    assert {"Namespace", "ConfigMap", "Service", "Job", "PodDisruptionBudget"} <= set(kinds)
    for doc in k8s_documents():
        if doc["kind"] not in {"Namespace", "Kustomization"}:
            assert doc["metadata"]["namespace"] == "kmidi", doc["metadata"]["name"]


def test_pods_carry_no_api_token_spread_over_nodes_and_only_reachable_where_needed() -> None:
    for name, deployment in deployments().items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, name
        (spread,) = pod["topologySpreadConstraints"]
        assert spread["whenUnsatisfiable"] == "ScheduleAnyway", name
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert spread["labelSelector"]["matchLabels"].items() <= labels.items(), name
    (job,) = [d for d in k8s_documents() if d["kind"] == "Job"]
    assert job["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    # A finished Job left in place would make the next apply (new image) fail: immutable.
    assert job["spec"]["ttlSecondsAfterFinished"] <= 300
    policies = {
        d["metadata"]["name"]: d["spec"] for d in k8s_documents() if d["kind"] == "NetworkPolicy"
    }
    deny = policies["kmidi-default-deny-ingress"]
    assert deny["podSelector"] == {}
    assert deny["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny
    served = {port["port"] for rule in policies["kmidi-http"]["ingress"] for port in rule["ports"]}
    assert served == {8000, 8001}
    (metrics,) = policies["kmidi-metrics"]["ingress"]
    assert [p["port"] for p in metrics["ports"]] == [9100]
    assert metrics["from"], "metrics only from the monitoring namespace"


def deployments() -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in k8s_documents() if doc["kind"] == "Deployment"}


def test_every_deployment_has_probes_limits_and_scrape_annotations() -> None:
    for name, deployment in deployments().items():
        template = deployment["spec"]["template"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= template["metadata"]["labels"].items(), name
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        ports = set()
        for container in template["spec"]["containers"]:
            assert container.get("readinessProbe"), f"{name}: no readinessProbe"
            assert container.get("livenessProbe"), f"{name}: no livenessProbe"
            limits = container.get("resources", {}).get("limits", {})
            requests = container.get("resources", {}).get("requests", {})
            assert {"cpu", "memory"} <= set(limits), f"{name}: no cpu/memory limits"
            assert {"cpu", "memory"} <= set(requests), f"{name}: no cpu/memory requests"
            assert container["envFrom"] == [{"configMapRef": {"name": "kmidi-config"}}]
            ports |= {port["containerPort"] for port in container.get("ports", [])}
        assert int(annotations["prometheus.io/port"]) in ports, name
        assert template["spec"]["securityContext"]["runAsNonRoot"] is True


def test_deployments_match_the_service_contracts() -> None:
    by_name = deployments()
    expected = {
        "kmidi-ingress": (["python", "-m", "producer_api"], "/ready", "/live", 8000),
        "kmidi-results": (
            ["python", "-m", "stream_processors.results_service"],
            "/ready",
            "/live",
            8001,
        ),
    }
    for name, (command, ready, live, port) in expected.items():
        deployment = by_name[name]
        assert deployment["spec"]["replicas"] == 2, name
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == command
        assert container["readinessProbe"]["httpGet"]["path"] == ready
        assert container["livenessProbe"]["httpGet"]["path"] == live
        named_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        probe_port = container["readinessProbe"]["httpGet"]["port"]
        assert named_ports.get(probe_port, probe_port) == port


def test_worker_probes_ask_its_event_loop_from_inside_the_container() -> None:
    worker = deployments()["kmidi-worker"]
    assert worker["spec"]["replicas"] == 2
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "stream_processors"]
    probe = ["python", "-m", "stream_processors.probe"]
    for kind, page in (
        ("startupProbe", "ready"),
        ("readinessProbe", "ready"),
        ("livenessProbe", "live"),
    ):
        assert container[kind]["exec"]["command"] == [*probe, page], kind
    # The probe module exists and takes exactly these pages.
    with pytest.raises(SystemExit):
        probe_main(["metrics"])
    compose_worker = load_yaml(COMPOSE)["services"]["worker"]
    assert compose_worker["healthcheck"]["test"] == ["CMD", *probe, "ready"]


def test_worker_has_a_disruption_budget_and_services_select_pods() -> None:
    documents = k8s_documents()
    worker_labels = deployments()["kmidi-worker"]["spec"]["template"]["metadata"]["labels"]
    budgets = [doc for doc in documents if doc["kind"] == "PodDisruptionBudget"]
    assert any(
        budget["spec"]["selector"]["matchLabels"].items() <= worker_labels.items()
        for budget in budgets
    ), "no PodDisruptionBudget selects the worker"
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments().values()]
    for service in (doc for doc in documents if doc["kind"] == "Service"):
        selector = service["spec"]["selector"]
        assert any(selector.items() <= labels.items() for labels in pod_labels), service


def test_configmap_and_topics_job() -> None:
    documents = k8s_documents()
    (configmap,) = [doc for doc in documents if doc["kind"] == "ConfigMap"]
    data = configmap["data"]
    assert data["KAFKA_BOOTSTRAP_SERVERS"]
    assert data["WORKER_METRICS_PORT"] == "9100"
    assert all(isinstance(value, str) for value in data.values()), "ConfigMap values are strings"
    # A cluster: replicated topics, and workers that leave topic creation to the Job.
    replication = TopicReplication.model_validate(
        {
            "replication_factor": data["TOPIC_REPLICATION_FACTOR"],
            "min_insync_replicas": data["TOPIC_MIN_INSYNC_REPLICAS"],
        }
    )
    assert (replication.replication_factor, replication.min_insync_replicas) == (3, 2)
    assert data["ENSURE_TOPICS_ON_START"] == "false"
    # Several ingress replicas: their Idempotency-Key claims must be shared, not per pod.
    assert Settings(idempotency_store=data["IDEMPOTENCY_STORE"]).idempotency_store == "kafka"
    (job,) = [doc for doc in documents if doc["kind"] == "Job"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"][:4] == ["python", "-m", "stream_processors.topics", "create"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}


# -- API keys, Kafka credentials and autoscaling in Kubernetes (issue 12) -----------------
# Checked for structure only: there is no cluster (and no KEDA) where this was written.

K8S_SECRET_TEMPLATE = K8S / "secrets" / "kmidi-secrets.template.yaml"
K8S_AUTOSCALING = K8S / "autoscaling"
HTTP_DEPLOYMENTS = ("kmidi-ingress", "kmidi-results")


def configmap_data() -> dict[str, str]:
    (configmap,) = [doc for doc in k8s_documents() if doc["kind"] == "ConfigMap"]
    data: dict[str, str] = configmap["data"]
    return data


def kafka_client_pods() -> dict[str, dict[str, Any]]:
    """The pod spec of every workload that talks to Kafka: the Deployments and the Job."""
    pods = {name: d["spec"]["template"]["spec"] for name, d in deployments().items()}
    (job,) = [d for d in k8s_documents() if d["kind"] == "Job"]
    pods[job["metadata"]["name"]] = job["spec"]["template"]["spec"]
    return pods


def mounted_secret_files(pod: dict[str, Any]) -> dict[str, str]:
    """Path in the container -> key of the Secret kmidi-secrets, for the pod's one container."""
    (container,) = pod["containers"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    files: dict[str, str] = {}
    for mount in container.get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        assert secret["secretName"] == "kmidi-secrets"
        # A subPath mount is never updated: a revoked key would stay valid in the pod.
        assert "subPath" not in mount, mount
        assert mount.get("readOnly") is True
        # Root-owned files; the kmidi user reads them through its group.
        assert secret["defaultMode"] & 0o040
        assert not secret["defaultMode"] & 0o007
        assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
        for item in secret["items"]:
            files[f"{mount['mountPath']}/{item['path']}"] = item["key"]
    return files


def container_env(pod: dict[str, Any]) -> dict[str, str]:
    (container,) = pod["containers"]
    return {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}


def test_the_http_services_require_api_keys_from_the_mounted_secret() -> None:
    data = configmap_data()
    pods = kafka_client_pods()
    for name in HTTP_DEPLOYMENTS:
        env = {**data, **container_env(pods[name])}
        files = mounted_secret_files(pods[name])
        assert files.get(env["KMIDI_API_KEYS_FILE"]) == "api-keys.json", name
        assert env.get("KMIDI_ALLOW_ANONYMOUS", "false") != "true", name
        host = env["API_HOST" if name == "kmidi-ingress" else "RESULTS_HOST"]
        # The service would start: it listens on every interface, with keys.
        chosen, _ = bind_host(
            name,
            host,
            keys_file=Path(env["KMIDI_API_KEYS_FILE"]),
            allow_anonymous=False,
            host_variable="API_HOST",
        )
        assert chosen == "0.0.0.0"
        with pytest.raises(BindRefusedError):  # and would refuse to without them
            bind_host(name, host, keys_file=None, allow_anonymous=False, host_variable="X")
    # The workers and the topics Job never see the API keys.
    for name, pod in pods.items():
        if name not in HTTP_DEPLOYMENTS:
            assert "api-keys.json" not in mounted_secret_files(pod).values(), name


def test_every_kafka_client_mounts_the_credentials_the_configmap_names(tmp_path: Path) -> None:
    data = configmap_data()
    secret_paths = {
        data["KAFKA_SASL_PASSWORD_FILE"]: "kafka-sasl-password",
        data["KAFKA_SSL_CA_LOCATION"]: "kafka-ca.crt",
    }
    for name, pod in kafka_client_pods().items():
        files = mounted_secret_files(pod)
        assert secret_paths.items() <= files.items(), name
    # The ConfigMap is a valid connection once the files exist (placeholders here).
    settings = {
        k.removeprefix("KAFKA_").lower(): v for k, v in data.items() if k.startswith("KAFKA_")
    }
    for variable in ("sasl_password_file", "ssl_ca_location"):
        stand_in = tmp_path / variable
        stand_in.write_text("placeholder\n", encoding="utf-8")
        settings[variable] = str(stand_in)
    connection = KafkaConnection.model_validate(settings)
    assert connection.security_protocol == "SASL_SSL"
    assert connection.sasl_password is not None
    assert connection.sasl_password.get_secret_value() == "placeholder"


def test_the_secret_is_a_marked_template_that_kustomize_never_applies() -> None:
    text = K8S_SECRET_TEMPLATE.read_text(encoding="utf-8")
    assert text.startswith("# TEMPLATE")
    (secret,) = load_yaml_documents(K8S_SECRET_TEMPLATE)
    assert (secret["kind"], secret["metadata"]["name"]) == ("Secret", "kmidi-secrets")
    assert secret["metadata"]["namespace"] == "kmidi"
    values = secret["stringData"]
    assert all(str(value).startswith("REPLACE-ME") for value in values.values()), values
    used = {
        key for pod in kafka_client_pods().values() for key in mounted_secret_files(pod).values()
    }
    assert set(values) == used, "the template has exactly the keys the pods mount"
    # Not a resource of any kustomization: an apply would overwrite the real Secret.
    for kustomization in (K8S / "kustomization.yaml", K8S_AUTOSCALING / "kustomization.yaml"):
        assert not any("secret" in r for r in load_yaml(kustomization)["resources"])
    # A placeholder keys file would stop the services instead of letting anyone in.
    with pytest.raises(KeysFileError):
        parse_keys(values["api-keys.json"])


def keda_documents() -> list[dict[str, Any]]:
    kustomization = load_yaml(K8S_AUTOSCALING / "kustomization.yaml")
    return [
        doc
        for resource in kustomization["resources"]
        for doc in load_yaml_documents(K8S_AUTOSCALING / resource)
    ]


def partitions_of(topic: str) -> int:
    return next(spec.partitions for spec in TOPICS if spec.name == topic)


def test_keda_scales_the_workers_on_their_lag_up_to_the_partition_count() -> None:
    documents = keda_documents()
    data = configmap_data()
    scaled = {d["metadata"]["name"]: d for d in documents if d["kind"] == "ScaledObject"}
    (auth,) = [d for d in documents if d["kind"] == "TriggerAuthentication"]
    assert all(d["metadata"]["namespace"] == "kmidi" for d in documents)
    groups = {
        "kmidi-worker": (data["WORKER_ID"], {INTENTS, PLANS}),
        "kmidi-audio": (
            container_env(kafka_client_pods()["kmidi-audio"])["AUDIO_WORKER_ID"],
            {AUDIO_REQUESTS},
        ),
    }
    assert set(scaled) == set(groups)
    for name, (group, topics) in groups.items():
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        assert name in deployments()
        triggers = spec["triggers"]
        assert {t["metadata"]["topic"] for t in triggers} == topics, name
        # More consumers than partitions would sit idle.
        assert spec["maxReplicaCount"] == min(partitions_of(topic) for topic in topics)
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        for trigger in triggers:
            meta = trigger["metadata"]
            assert trigger["type"] == "kafka"
            assert meta["consumerGroup"] == group, name
            assert meta["bootstrapServers"] == data["KAFKA_BOOTSTRAP_SERVERS"]
            assert int(meta["lagThreshold"]) > 0
            assert meta["allowIdleConsumers"] == "false"
            assert meta["offsetResetPolicy"] == "earliest"
            # The same security as the services: SASL_SSL with SCRAM-SHA-512.
            assert meta["tls"] == "enable"
            keda_mechanism = {"SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}
            assert meta["sasl"] == keda_mechanism[data["KAFKA_SASL_MECHANISM"]]
            assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    # The worker keeps at least two replicas, as its disruption budget expects.
    assert scaled["kmidi-worker"]["spec"]["minReplicaCount"] >= 2
    refs = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"]}
    assert {refs[p]["name"] for p in ("password", "ca")} == {"kmidi-secrets"}
    (secret,) = load_yaml_documents(K8S_SECRET_TEMPLATE)
    assert {refs[p]["key"] for p in ("password", "ca")} <= set(secret["stringData"])
    (username,) = auth["spec"]["env"]
    assert (username["parameter"], username["name"]) == ("username", "KAFKA_SASL_USERNAME")
    assert data["KAFKA_SASL_USERNAME"]


def test_kustomize_renders_the_application_and_the_autoscaling() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: its kustomize renders the directories")
    rendered: dict[Path, list[str]] = {}
    for directory in (K8S, K8S_AUTOSCALING, K8S / "monitoring"):
        output = subprocess.run(
            [kubectl, "kustomize", str(directory)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert output.returncode == 0, output.stderr
        rendered[directory] = [doc["kind"] for doc in yaml.safe_load_all(output.stdout) if doc]
    assert rendered[K8S].count("Deployment") == 4
    assert "Secret" not in rendered[K8S]
    assert sorted(rendered[K8S_AUTOSCALING]) == [
        "ScaledObject",
        "ScaledObject",
        "TriggerAuthentication",
    ]


def test_compose_ingress_shares_its_idempotency_keys_through_kafka() -> None:
    env = load_yaml(COMPOSE)["services"]["ingress"]["environment"]
    # Scaled past one container, a per-container SQLite file would let a retry publish twice.
    assert Settings(idempotency_store=env["IDEMPOTENCY_STORE"]).idempotency_store == "kafka"


def test_compose_runs_the_http_services_anonymously_on_loopback_ports_only() -> None:
    services = load_yaml(COMPOSE)["services"]
    for name, variable in (("ingress", "API_HOST"), ("results", "RESULTS_HOST")):
        env = services[name]["environment"]
        keys = env.get("KMIDI_API_KEYS_FILE")
        anonymous = str(env.get("KMIDI_ALLOW_ANONYMOUS", "false")).lower() == "true"
        # They would start (no BindRefusedError) ...
        bind_host(
            name,
            env[variable],
            keys_file=Path(keys) if keys else None,
            allow_anonymous=anonymous,
            host_variable=variable,
        )
        # ... and anonymous only where the host publishes them on 127.0.0.1 alone.
        if not keys:
            assert all(str(port).startswith("127.0.0.1:") for port in services[name]["ports"])


# -- release metadata ---------------------------------------------------------------------


def test_kmidi_version_is_the_installed_distributions() -> None:
    # The console script pip installed, as a user runs it; the version comes from
    # pyproject.toml through the installed metadata, not from a copy in the code.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    script = Path(sys.executable).with_name("kmidi")
    assert script.exists(), f"{script} missing: run make (pip install -e '.[dev]')"
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"kmidi {pyproject['project']['version']}"


def test_dev_extras_declare_what_the_tests_import() -> None:
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]["dev"]
    names = {re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0].lower() for requirement in dev}
    assert {"pyyaml", "types-pyyaml", "jsonschema"} <= names


# -- reproducible builds -------------------------------------------------------------------

LOCKS = ROOT / "requirements"


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    return [
        (parts[0], parts[1] if len(parts) > 1 else "")
        for parts in (line.split(None, 1) for line in text.splitlines())
        if parts and not parts[0].startswith("#")
    ]


def test_image_labels_name_version_revision_and_source() -> None:
    instructions = dockerfile_instructions()
    runtime = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    args = dict(arg.split("=", 1) for op, arg in runtime if op == "ARG" and "=" in arg)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert args["KMIDI_VERSION"] == pyproject["project"]["version"]
    labels = " ".join(arg for op, arg in runtime if op == "LABEL")
    for key, arg in (
        ("version", "KMIDI_VERSION"),
        ("revision", "KMIDI_REVISION"),
        ("source", "KMIDI_SOURCE"),
    ):
        assert f'org.opencontainers.image.{key}="${{{arg}}}"' in labels, key
        assert arg in args, f"ARG {arg} must be declared in the runtime stage"
    compose_args = load_yaml(COMPOSE)["x-kmidi-service"]["build"]["args"]
    assert set(compose_args) == {"KMIDI_REVISION", "KMIDI_SOURCE"}
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    assert "!requirements/runtime.lock" in ignore.splitlines()


def test_base_image_is_named_once_and_pinned_by_digest() -> None:
    instructions = dockerfile_instructions()
    (default,) = [
        arg.split("=", 1)[1]
        for op, arg in instructions
        if op == "ARG" and arg.startswith("BASE_IMAGE=")
    ]
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", default), default
    stages = [arg.split()[0] for op, arg in instructions if op == "FROM"]
    assert stages == ["${BASE_IMAGE}", "${BASE_IMAGE}"], "both stages build on BASE_IMAGE"
    script = (ROOT / "scripts" / "pin-base-image.sh").read_text(encoding="utf-8")
    assert "s|^ARG BASE_IMAGE=.*|" in script, "the pin script rewrites the ARG line"


def locked(path: Path) -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes) for what installs on CPython 3.11/Linux."""
    environment = {
        "python_version": "3.11",
        "python_full_version": "3.11.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
    }
    pins: dict[str, tuple[Version, int]] = {}
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        spec, *options = line.split(" --hash=")
        requirement = Requirement(spec)
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", line
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"{name} pinned twice for Python 3.11"
        pins[name] = (Version(specifier.version), len(options))
    return pins


@pytest.mark.parametrize(("lock", "extras"), [("runtime.lock", ()), ("dev.lock", ("dev",))])
def test_lock_pins_every_dependency_within_pyproject_ranges(
    lock: str, extras: tuple[str, ...]
) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [Requirement(text) for text in project["dependencies"]]
    for extra in extras:
        wanted += [Requirement(text) for text in project["optional-dependencies"][extra]]
    pins = locked(LOCKS / lock)
    stale = []
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        if name not in pins or pins[name][0] not in requirement.specifier:
            stale.append(f"{requirement} (locked: {pins.get(name, ('nothing',))[0]})")
    assert not stale, (
        f"requirements/{lock} does not satisfy pyproject.toml: {stale}; "
        "relock as docs/operations.md#reproducible-builds says"
    )
    unhashed = [name for name, (_, hashes) in pins.items() if hashes == 0]
    assert not unhashed, f"pins without hashes: {unhashed}"


def test_runtime_lock_agrees_with_the_dev_lock() -> None:
    runtime, dev = locked(LOCKS / "runtime.lock"), locked(LOCKS / "dev.lock")
    assert set(runtime) <= set(dev)
    differ = {
        name: (runtime[name][0], dev[name][0])
        for name in runtime
        if runtime[name][0] != dev[name][0]
    }
    assert not differ, f"the image and the tests would run different versions: {differ}"


def _family(sample: str) -> str:
    for suffix in ("_total", "_bucket", "_sum", "_count", "_created", "_info"):
        if sample.endswith(suffix):
            return sample.removesuffix(suffix)
    return sample


def test_every_metric_the_services_define_is_charted_or_alerted_on(
    defined_metrics: tuple[set[str], dict[str, str]],
) -> None:
    # A metric nobody looks at is cost without use: chart it, alert on it, or remove it.
    defined, _ = defined_metrics
    used = {_family(name) for name in referenced_metrics()}
    unused = {_family(name) for name in defined if name.startswith("kmidi_")} - used
    assert not unused, f"metrics no panel or alert uses: {sorted(unused)}"
