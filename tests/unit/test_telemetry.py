"""Tracing is off unless an OTLP endpoint is set, and off it loads none of the SDK.

The spans themselves are checked against a real OpenTelemetry Collector in
``tests/e2e/test_traces.py``.
"""

from __future__ import annotations

import os
import textwrap

import pytest

from service_common import telemetry
from tests.python_child import child_report

_SERVICES_WITHOUT_ENDPOINT = textwrap.dedent(
    """
    import json, sys
    import producer_api.main, stream_processors.results_service.main
    import stream_processors.domain, stream_processors.publishing
    from service_common import telemetry
    from service_common.otel_http import TracingMiddleware
    apps = (producer_api.main.app, stream_processors.results_service.main.app)
    print(json.dumps({
        "configured": telemetry.configure_tracing("probe"),
        "sdk_loaded": sorted(m for m in sys.modules
                             if m.startswith(("opentelemetry.sdk", "opentelemetry.exporter",
                                              "service_common.otel_sdk"))),
        "tracing_middleware": [any(m.cls is TracingMiddleware for m in app.user_middleware)
                               for app in apps],
    }))
    """
)


def test_services_started_without_an_endpoint_load_no_sdk() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    report = child_report(_SERVICES_WITHOUT_ENDPOINT, env=env, what="starting the services")
    assert report == {"configured": False, "sdk_loaded": [], "tracing_middleware": [False, False]}


@pytest.mark.parametrize(
    ("environ", "requested"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_SDK_DISABLED": "TRUE"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),
    ],
)
def test_tracing_is_requested_by_an_otlp_endpoint(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], requested: bool
) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert telemetry.tracing_requested() is requested


def test_helpers_are_shared_null_contexts_when_off() -> None:
    assert not telemetry.tracing_enabled()
    headers = [("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    assert telemetry.with_current_traceparent(headers) is headers
    off = telemetry.span("x")
    assert telemetry.publish_span("t") is off
    assert telemetry.consume_span("t", 0, 1, headers, consumer_group=None) is off
    with off as span:
        assert span is None
