"""`kmidi up` checks the ports of its services before starting any (kmidi/cli/stack_ports.py)."""

from __future__ import annotations

import socket

from kmidi.cli.broker import free_port, free_port_run
from kmidi.cli.stack import _services
from kmidi.cli.stack_ports import claims_of, port_problem


def _problem(env: dict[str, str], workers: int) -> str | None:
    services = _services("127.0.0.1:9", workers=workers, env=env)
    return port_problem(c for s in services for c in claims_of(s.name, s.env, s.ports))


def _free_env() -> dict[str, str]:
    # Two workers and the audio worker take three consecutive ports of each: each range is
    # a run of free ports, and the two runs must not overlap.
    metrics, web = free_port_run(3), free_port_run(3)
    while abs(metrics - web) < 3:
        web = free_port_run(3)
    return {
        "API_PORT": str(free_port()),
        "RESULTS_PORT": str(free_port()),
        "WORKER_METRICS_PORT": str(metrics),
        "FAUST_WEB_PORT": str(web),
    }


def test_free_and_distinct_ports_pass() -> None:
    assert _problem(_free_env(), workers=2) is None


def test_worker_port_ranges_that_overlap_are_named_with_their_settings() -> None:
    env = _free_env()
    env["FAUST_WEB_PORT"] = str(int(env["WORKER_METRICS_PORT"]) + 1)
    problem = _problem(env, workers=2)
    assert problem is not None
    assert "worker-2's WORKER_METRICS_PORT" in problem
    assert "worker-1's FAUST_WEB_PORT" in problem


def test_a_port_in_use_names_the_service_and_the_setting() -> None:
    env = _free_env()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        env["API_PORT"] = str(holder.getsockname()[1])
        problem = _problem(env, workers=1)
    assert problem is not None
    assert f"port {env['API_PORT']} (ingress's API_PORT" in problem
    assert "set API_PORT to another port" in problem


def test_a_metrics_port_of_zero_is_off_and_claims_nothing() -> None:
    claims = claims_of(
        "worker",
        {"WORKER_METRICS_PORT": "0", "FAUST_WEB_PORT": "6066"},
        (
            "WORKER_METRICS_PORT",
            "FAUST_WEB_PORT",
        ),
    )
    assert [(c.variable, c.host, c.port) for c in claims] == [("FAUST_WEB_PORT", "127.0.0.1", 6066)]
