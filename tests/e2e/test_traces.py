"""One request is one trace: `kmidi up` exporting to a real OpenTelemetry Collector.

The collector (tests/otelcol: OTLP/HTTP receiver, debug exporter) is built from the Go
module proxy by ``scripts/build-otelcol.sh`` into ``~/.cache/kmidi`` (``scripts/
ensure-system-deps.sh --test`` does it too); the spans are read back from the debug
exporter's detailed output, one JSON log line per batch.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from kmidi.cli.broker import free_port
from schemas.topics import AUDIO_REQUESTS, INTENTS, PLANS, RESULTS
from tests.e2e.stack_process import RunningStack, start_stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
COLLECTOR_CONFIG = """\
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
exporters:
  debug:
    verbosity: detailed
service:
  telemetry:
    metrics:
      level: none
    logs:
      encoding: json
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
"""


@dataclass
class Span:
    service: str
    fields: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.fields["Name"]

    @property
    def span_id(self) -> str:
        return self.fields["ID"]

    @property
    def parent_id(self) -> str:
        return self.fields.get("Parent ID", "")

    @property
    def trace_id(self) -> str:
        return self.fields["Trace ID"]


def parse_debug_output(text: str) -> list[Span]:
    """Spans in the debug exporter's detailed text (pdata's text marshaller)."""
    spans: list[Span] = []
    service = ""
    current: Span | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith(("ResourceSpans #", "ScopeSpans #")):
            current = None
        elif line.startswith("Span #"):
            current = Span(service)
            spans.append(current)
        elif stripped.startswith("-> ") and ": " in stripped:
            key, _, value = stripped[3:].partition(": ")
            value = value.removeprefix("Str(").removesuffix(")")
            if current is None and key == "service.name":
                service = value
            elif current is not None:
                current.attributes[key] = value
        elif current is not None and " : " in line:
            key, _, value = line.partition(" : ")
            current.fields[key.strip()] = value.strip()
    return spans


def collected_spans(log: Path) -> list[Span]:
    spans: list[Span] = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("otelcol.component.id") == "debug" and "Span #" in entry.get("msg", ""):
            spans += parse_debug_output(entry["msg"])
    return spans


def test_debug_output_parser() -> None:
    text = (
        "ResourceSpans #0\nResource attributes:\n     -> service.name: Str(kmidi-worker)\n"
        "ScopeSpans #0\nSpan #0\n    Trace ID       : 0af7\n    Parent ID      : \n"
        "    ID             : 04d3\n    Name           : process kmidi.intents.v1\n"
        "Attributes:\n     -> messaging.system: Str(kafka)\n"
    )
    (span,) = parse_debug_output(text)
    assert (span.service, span.trace_id, span.parent_id, span.span_id, span.name) == (
        "kmidi-worker",
        "0af7",
        "",
        "04d3",
        "process kmidi.intents.v1",
    )
    assert span.attributes == {"messaging.system": "kafka"}


@dataclass
class Collector:
    endpoint: str
    log: Path


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    built = subprocess.run(
        [str(ROOT / "scripts" / "build-otelcol.sh")], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, (
        "the OpenTelemetry Collector could not be built (scripts/build-otelcol.sh; "
        f"run scripts/ensure-system-deps.sh --test):\n{built.stderr}"
    )
    binary = built.stdout.strip().splitlines()[-1]
    folder = tmp_path_factory.mktemp("otelcol")
    port = free_port()
    config = folder / "config.yaml"
    config.write_text(COLLECTOR_CONFIG.format(port=port), encoding="utf-8")
    log = folder / "collector.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "--config", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while "Everything is ready" not in log.read_text(errors="replace"):
            assert process.poll() is None, f"collector exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"collector not ready:\n{log.read_text()}"
            time.sleep(0.2)
        yield Collector(endpoint=f"http://127.0.0.1:{port}", log=log)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def traced_stack(
    kafka_bootstrap: str, collector: Collector, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    running = start_stack(
        tmp_path_factory.mktemp("traced-stack"),
        bootstrap=kafka_bootstrap,
        extra_env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms: export batches quickly
        },
    )
    try:
        yield running
    finally:
        running.stop()


EXPECTED_SPANS = Counter(
    [
        ("producer_api", "POST /v1/generate"),
        ("producer_api", f"send {INTENTS}"),
        ("kmidi-worker", f"process {INTENTS}"),
        ("kmidi-worker", "analyse intent"),
        ("kmidi-worker", "compose plan"),
        ("kmidi-worker", "render midi"),
        ("kmidi-worker", f"send {PLANS}"),
        ("kmidi-worker", f"send {RESULTS}"),
        ("kmidi-worker", f"process {PLANS}"),
        ("results_service", f"process {RESULTS}"),
        ("results_service", "GET /v1/results/{request_id}"),
    ]
)
"""The spans of a MIDI request; an audio request adds the audio stage's request, the
stage's own spans and a second result."""
AUDIO_SPANS = Counter(
    [
        ("kmidi-worker", f"send {AUDIO_REQUESTS}"),
        ("kmidi-audio", f"process {AUDIO_REQUESTS}"),
        ("kmidi-audio", "render audio"),
        ("kmidi-audio", f"send {RESULTS}"),
        ("results_service", f"process {RESULTS}"),
    ]
)


def wait_for_trace(
    collector: Collector, trace_id: str, expected: Counter[tuple[str, str]]
) -> list[Span]:
    """The spans of ``trace_id`` once the ``expected`` (service, name) counts have arrived,
    or after 30 s. Each process exports in batches, a parent after its children, so a
    trace arrives in pieces."""
    deadline = time.monotonic() + 30
    while True:
        spans = [s for s in collected_spans(collector.log) if s.trace_id == trace_id]
        arrived = Counter((s.service, s.name) for s in spans)
        if not expected - arrived or time.monotonic() > deadline:
            return spans
        time.sleep(0.3)


def only(spans: list[Span], service: str, name: str) -> Span:
    found = [s for s in spans if s.service == service and s.name == name]
    assert len(found) == 1, f"{service} {name!r}: {len(found)} spans in {describe(spans)}"
    return found[0]


def describe(spans: list[Span]) -> str:
    return "\n".join(f"  {s.service}: {s.name} {s.parent_id}->{s.span_id}" for s in spans)


def submit_traced(stack: RunningStack, body: Mapping[str, object]) -> tuple[str, str, str]:
    """POST ``body`` and long-poll its result, both with one client traceparent; the trace
    ID, the client's span ID and the request ID."""
    trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
    request_id = f"trace-{uuid.uuid4().hex[:12]}"
    headers = {"traceparent": f"00-{trace_id}-{client_span}-01", "X-Request-ID": request_id}
    accepted = httpx.post(f"{stack.api_url}/v1/generate", json=body, headers=headers, timeout=10)
    assert accepted.status_code == 202, accepted.text
    status = httpx.get(
        accepted.json()["status_url"], params={"wait": 60}, headers=headers, timeout=70
    ).json()
    assert status["status"] == "completed", status
    return trace_id, client_span, request_id


def test_one_request_is_one_trace_through_ingress_both_stages_and_results(
    traced_stack: RunningStack, collector: Collector
) -> None:
    body = {"intent": {"emotional_intent": "we won the championship!"}}
    trace_id, client_span, request_id = submit_traced(traced_stack, body)

    spans = wait_for_trace(collector, trace_id, EXPECTED_SPANS)

    # Ingress: the HTTP call, a child of the client's span, publishes the intent.
    post = only(spans, "producer_api", "POST /v1/generate")
    assert post.parent_id == client_span
    assert post.attributes["kmidi.request_id"] == request_id
    send_intent = only(spans, "producer_api", f"send {INTENTS}")
    assert send_intent.parent_id == post.span_id
    # Interrogation stage: consumes that record, plans, renders, publishes plan and result.
    interrogation = only(spans, "kmidi-worker", f"process {INTENTS}")
    assert interrogation.parent_id == send_intent.span_id
    for name in ("analyse intent", "compose plan", "render midi", f"send {PLANS}"):
        assert only(spans, "kmidi-worker", name).parent_id == interrogation.span_id, name
    send_result = only(spans, "kmidi-worker", f"send {RESULTS}")
    assert send_result.parent_id == interrogation.span_id
    # Generation stage: consumes the plan (already rendered upstream, so it only skips it).
    generation = only(spans, "kmidi-worker", f"process {PLANS}")
    assert generation.parent_id == only(spans, "kmidi-worker", f"send {PLANS}").span_id
    assert generation.attributes["messaging.consumer.group.name"]
    # Results service: materialises the result, and answers the long-poll in the trace.
    materialised = only(spans, "results_service", f"process {RESULTS}")
    assert materialised.parent_id == send_result.span_id
    poll = only(spans, "results_service", "GET /v1/results/{request_id}")
    assert poll.parent_id == client_span
    assert {s.trace_id for s in spans} == {trace_id}


def test_an_audio_request_adds_the_audio_stage_to_its_trace(
    traced_stack: RunningStack, collector: Collector
) -> None:
    body = {"intent": {"emotional_intent": "calm evening"}, "output_format": "audio"}
    trace_id, _, _ = submit_traced(traced_stack, body)

    spans = wait_for_trace(collector, trace_id, EXPECTED_SPANS + AUDIO_SPANS)
    by_id = {s.span_id: s for s in spans}
    midi_result = next(
        s
        for s in spans
        if s.name == f"send {RESULTS}" and by_id[s.parent_id].name == f"process {INTENTS}"
    )
    request = only(spans, "kmidi-worker", f"send {AUDIO_REQUESTS}")
    # Published by the same handling of the intent as the MIDI result, after it.
    assert request.parent_id == midi_result.parent_id
    render = only(spans, "kmidi-audio", "render audio")
    audio = by_id[render.parent_id]
    assert audio.name == f"process {AUDIO_REQUESTS}"
    assert audio.attributes["messaging.consumer.group.name"] == "kmidi-audio"
    assert audio.parent_id == request.span_id
    (audio_result,) = [
        s for s in spans if s.name == f"send {RESULTS}" and s.parent_id == audio.span_id
    ]
    materialised = [
        s for s in spans if s.service == "results_service" and s.name == f"process {RESULTS}"
    ]
    assert {s.parent_id for s in materialised} == {midi_result.span_id, audio_result.span_id}


def test_a_deletion_is_traced_to_its_tombstone(
    traced_stack: RunningStack, collector: Collector
) -> None:
    body = {"intent": {"emotional_intent": "a quiet goodbye"}}
    trace_id, client_span, request_id = submit_traced(traced_stack, body)
    deleted = httpx.delete(
        f"{traced_stack.results_url}/v1/results/{request_id}",
        headers={"traceparent": f"00-{trace_id}-{client_span}-01"},
        timeout=10,
    )
    assert deleted.status_code == 204, deleted.text

    expected = EXPECTED_SPANS + Counter(
        [
            ("results_service", "DELETE /v1/results/{request_id}"),
            ("results_service", f"send {RESULTS}"),
            ("results_service", f"process {RESULTS}"),
        ]
    )
    spans = wait_for_trace(collector, trace_id, expected)
    delete = only(spans, "results_service", "DELETE /v1/results/{request_id}")
    assert delete.parent_id == client_span
    tombstone = only(spans, "results_service", f"send {RESULTS}")
    assert tombstone.parent_id == delete.span_id
    applied = [
        s for s in spans if s.service == "results_service" and s.parent_id == tombstone.span_id
    ]
    assert [s.name for s in applied] == [f"process {RESULTS}"]
