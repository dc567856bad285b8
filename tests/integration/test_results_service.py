"""The results service against a real broker, run as its own process on a free port.

Events are written with plain aiokafka producers to the real pipeline topics; request IDs
are unique so other tests sharing the broker never collide with these.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

from kmidi.cli.broker import free_port
from kmidi.compose import Composition, compose
from schemas.events import (
    ErrorInfo,
    GenerationResult,
    IntentSubmitted,
    PlanReady,
    dump_event,
)
from schemas.intent import Intent
from schemas.kafka_connection import KafkaConnection
from schemas.topics import INTENTS, PLANS, RESULTS
from service_common.kafka_headers import build_headers
from service_common.tracing import new_traceparent
from stream_processors.topics import ensure_topics

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
"""Bound on a service becoming ready: process start, broker connection and replay."""
STEP_TIMEOUT = 20.0
"""Bound on an event written to Kafka showing up over HTTP (does-not-hang, not a benchmark)."""
LONG_POLL_MAX = 30


def new_id() -> str:
    return f"it-results-{uuid.uuid4().hex}"


# -- the service as a process --------------------------------------------------------------


@dataclass
class ResultsProcess:
    """``python -m stream_processors.results_service`` on a free port, logs in a file."""

    bootstrap: str
    port: int = field(default_factory=free_port)
    log_path: Path = field(
        default_factory=lambda: Path(tempfile.mkstemp(prefix="results-", suffix=".log")[1])
    )
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ResultsProcess:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "RESULTS_HOST": "127.0.0.1",
            "RESULTS_PORT": str(self.port),
            "RESULTS_BASE_URL": self.url,
            "LONG_POLL_MAX_SECONDS": str(LONG_POLL_MAX),
            "SSE_PING_SECONDS": "1",
            "SSE_MAX_SECONDS": "60",
            "SSE_UNKNOWN_GRACE_SECONDS": "2",
            "CONSUMER_RETRY_MAX_SECONDS": "1",
            "BROKER_PROBE_INTERVAL_SECONDS": "1",
            "LOG_LEVEL": "INFO",
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "stream_processors.results_service"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    async def wait_ready(self, client: httpx.AsyncClient) -> list[int]:
        """Poll /ready until 200; the status codes seen on the way (connection refused = 0)."""
        seen: list[int] = []
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            assert self.process.poll() is None, f"service exited:\n{self.logs()}"
            try:
                response = await client.get(f"{self.url}/ready")
                seen.append(response.status_code)
                if response.status_code == 200:
                    return seen
            except httpx.TransportError:
                seen.append(0)
            await asyncio.sleep(0.05)
        raise AssertionError(f"not ready within {START_TIMEOUT}s; saw {seen[-5:]}\n{self.logs()}")


@pytest.fixture(scope="module")
async def topics(kafka_bootstrap: str, kafka_connection: KafkaConnection) -> str:
    await ensure_topics(kafka_connection)
    return kafka_bootstrap


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # Idle connections are dropped well before the server's keep-alive timeout, so a
    # request never races the server closing the connection it reuses.
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(LONG_POLL_MAX + 15), limits=httpx.Limits(keepalive_expiry=1)
    ) as http:
        yield http


@pytest.fixture(scope="module")
async def service(topics: str, client: httpx.AsyncClient) -> AsyncIterator[ResultsProcess]:
    """One instance started before the tests write anything: it sees events live."""
    server = ResultsProcess(topics).start()
    try:
        await server.wait_ready(client)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def piece() -> Composition:
    """A real piece from kmidi: a plan and the MIDI rendered from it."""
    return compose(Intent(emotional_intent="we won the championship!"), seed=11)


# -- writing events ------------------------------------------------------------------------

SUBMITTED = datetime.now(UTC)


async def send(producer: AIOKafkaProducer, topic: str, request_id: str, value: bytes) -> None:
    await producer.send_and_wait(
        topic, value, key=request_id.encode(), headers=build_headers(request_id, new_traceparent())
    )


def intent_event(request_id: str) -> bytes:
    return dump_event(
        IntentSubmitted(
            request_id=request_id,
            intent=Intent(emotional_intent="we won the championship!"),
            seed=11,
            submitted_at=datetime.now(UTC),
            source="test",
        )
    )


def plan_event(request_id: str, piece: Composition) -> bytes:
    return dump_event(
        PlanReady(
            request_id=request_id,
            intent=Intent(emotional_intent="we won the championship!"),
            seed=piece.seed,
            affect=piece.affect.to_dict(),
            plan=piece.plan.to_dict(),
            submitted_at=datetime.now(UTC),
        )
    )


def result_event(
    request_id: str,
    piece: Composition,
    *,
    failed: bool = False,
    completed_at: datetime | None = None,
) -> bytes:
    fields: dict[str, Any] = {
        "request_id": request_id,
        "affect": piece.affect.to_dict(),
        "plan": piece.plan.to_dict(),
        "seed": piece.seed,
        "submitted_at": datetime.now(UTC) - timedelta(seconds=1),
        "completed_at": completed_at or datetime.now(UTC),
    }
    if failed:
        fields |= {
            "status": "failed",
            "error": ErrorInfo(code="invalid_key", message='key "H#" not understood'),
        }
    else:
        fields |= {
            "status": "completed",
            "midi_base64": base64.b64encode(piece.midi).decode(),
            "duration_seconds": piece.piece.duration_seconds,
        }
    return dump_event(GenerationResult.model_validate(fields))


async def status_of(client: httpx.AsyncClient, server: ResultsProcess, request_id: str) -> int:
    return (await client.get(f"{server.url}/v1/results/{request_id}")).status_code


async def wait_status(
    client: httpx.AsyncClient, server: ResultsProcess, request_id: str, wanted: str
) -> dict[str, Any]:
    deadline = time.monotonic() + STEP_TIMEOUT
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await client.get(f"{server.url}/v1/results/{request_id}")
        if response.status_code == 200:
            body = response.json()
            if body["status"] == wanted:
                return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{request_id} never became {wanted}; last {body}\n{server.logs()}")


def metric(text: str, name: str, **labels: str) -> float:
    """A sample's value in a Prometheus text exposition (0 when absent)."""
    wanted = name + (
        "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else ""
    )
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# -- status and long-poll ------------------------------------------------------------------


async def test_status_follows_the_pipeline_stages(
    service: ResultsProcess,
    client: httpx.AsyncClient,
    producer_factory: Any,
    piece: Composition,
) -> None:
    producer = await producer_factory()
    request_id = new_id()

    await send(producer, INTENTS, request_id, intent_event(request_id))
    accepted = await wait_status(client, service, request_id, "accepted")
    assert accepted["result_url"] is None
    assert "plan" not in accepted
    assert "notes" not in accepted

    await send(producer, PLANS, request_id, plan_event(request_id, piece))
    processing = await wait_status(client, service, request_id, "processing")
    assert processing["affect"] == piece.affect.to_dict()

    await send(producer, RESULTS, request_id, result_event(request_id, piece))
    completed = await wait_status(client, service, request_id, "completed")
    assert completed["result_url"] == f"{service.url}/v1/results/{request_id}/midi"
    assert completed["seed"] == piece.seed
    assert completed["error"] is None
    assert completed["duration_seconds"] == pytest.approx(piece.piece.duration_seconds)

    response = await client.get(
        f"{service.url}/v1/results/{request_id}", headers={"X-Request-ID": "my-trace.1"}
    )
    assert response.headers["X-Request-ID"] == "my-trace.1"


async def test_long_poll_returns_as_soon_as_the_result_is_written(
    service: ResultsProcess,
    client: httpx.AsyncClient,
    producer_factory: Any,
    piece: Composition,
) -> None:
    producer = await producer_factory()
    request_id = new_id()
    await send(producer, INTENTS, request_id, intent_event(request_id))
    await wait_status(client, service, request_id, "accepted")

    wait = LONG_POLL_MAX
    started = time.monotonic()
    poll = asyncio.create_task(client.get(f"{service.url}/v1/results/{request_id}?wait={wait}"))
    await asyncio.sleep(0.5)
    assert not poll.done(), "the long-poll answered before the request finished"
    await send(producer, RESULTS, request_id, result_event(request_id, piece))

    response = await asyncio.wait_for(poll, timeout=wait + 10)
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert time.monotonic() - started < wait, "the long-poll waited for its timeout"


async def test_long_poll_waits_for_an_id_not_seen_yet(
    service: ResultsProcess,
    client: httpx.AsyncClient,
    producer_factory: Any,
    piece: Composition,
) -> None:
    producer = await producer_factory()
    request_id = new_id()
    started = time.monotonic()
    poll = asyncio.create_task(
        client.get(f"{service.url}/v1/results/{request_id}?wait={LONG_POLL_MAX}")
    )
    await asyncio.sleep(0.3)

    await send(producer, INTENTS, request_id, intent_event(request_id))
    await send(producer, RESULTS, request_id, result_event(request_id, piece, failed=True))

    response = await asyncio.wait_for(poll, timeout=LONG_POLL_MAX + 10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "failed"
    assert body["error"]["code"] == "invalid_key"
    assert time.monotonic() - started < LONG_POLL_MAX


async def test_a_long_poll_stops_waiting_when_its_client_goes_away(
    service: ResultsProcess, client: httpx.AsyncClient
) -> None:
    async def waiters() -> float:
        text = (await client.get(f"{service.url}/metrics")).text
        return metric(text, "kmidi_results_waiters")

    before = await waiters()
    url = f"{service.url}/v1/results/{new_id()}?wait={LONG_POLL_MAX}"
    async with httpx.AsyncClient(timeout=LONG_POLL_MAX + 10) as leaving:
        poll = asyncio.create_task(leaving.get(url))
        deadline = time.monotonic() + STEP_TIMEOUT
        while await waiters() < before + 1:
            assert time.monotonic() < deadline, "the long-poll never started waiting"
            await asyncio.sleep(0.05)
        poll.cancel()  # the client gives up: its connection closes
        with contextlib.suppress(asyncio.CancelledError):
            await poll
    gone = time.monotonic()
    while await waiters() > before:
        assert time.monotonic() - gone < 5, "the waiter outlived its client"
        await asyncio.sleep(0.1)


async def test_unknown_id_is_404_after_a_short_wait(
    service: ResultsProcess, client: httpx.AsyncClient
) -> None:
    request_id = new_id()
    for path in ("", "?wait=0.3", "/midi", "/events"):
        response = await client.get(
            f"{service.url}/v1/results/{request_id}{path}", headers={"X-Request-ID": "ask-404"}
        )
        assert response.status_code == 404, path
        body = response.json()
        assert body["error"]["code"] == "not_found"
        assert body["request_id"] == "ask-404"


# -- the MIDI file -------------------------------------------------------------------------


async def test_midi_download_is_a_real_midi_file(
    service: ResultsProcess,
    client: httpx.AsyncClient,
    producer_factory: Any,
    piece: Composition,
    tmp_path: Path,
) -> None:
    producer = await producer_factory()
    request_id = new_id()
    midi_url = f"{service.url}/v1/results/{request_id}/midi"
    await send(producer, INTENTS, request_id, intent_event(request_id))
    await wait_status(client, service, request_id, "accepted")

    pending = await client.get(midi_url)
    assert pending.status_code == 409
    assert pending.json()["error"]["code"] == "not_ready"
    assert pending.json()["details"] == [{"status": "accepted"}]

    await send(producer, RESULTS, request_id, result_event(request_id, piece))
    await wait_status(client, service, request_id, "completed")
    response = await client.get(midi_url)

    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/midi"
    assert (
        response.headers["content-disposition"] == f'attachment; filename="kmidi-{request_id}.mid"'
    )
    assert response.headers["etag"] == f'"{hashlib.sha256(piece.midi).hexdigest()}"'
    assert response.content == piece.midi
    # An independent parser: Debian's midicsv reads the file as a Standard MIDI File.
    path = tmp_path / "piece.mid"
    path.write_bytes(response.content)
    midicsv = await asyncio.create_subprocess_exec(
        "midicsv", str(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(midicsv.communicate(), timeout=30)
    assert midicsv.returncode == 0, err.decode()
    csv = out.decode()
    assert "Header" in csv
    assert csv.count("Note_on_c") >= len(piece.piece.notes)

    cached = await client.get(midi_url, headers={"If-None-Match": response.headers["etag"]})
    assert cached.status_code == 304
    head = await client.head(midi_url)
    assert head.status_code == 200
    assert head.headers["etag"] == response.headers["etag"]


async def test_midi_of_a_failed_request_is_409_with_the_error(
    service: ResultsProcess,
    client: httpx.AsyncClient,
    producer_factory: Any,
    piece: Composition,
) -> None:
    producer = await producer_factory()
    request_id = new_id()
    await send(producer, RESULTS, request_id, result_event(request_id, piece, failed=True))
    await wait_status(client, service, request_id, "failed")

    response = await client.get(f"{service.url}/v1/results/{request_id}/midi")

    assert response.status_code == 409
    body = response.json()
    assert body["error"]["code"] == "generation_failed"
    assert body["details"][0]["error"]["code"] == "invalid_key"


async def test_format_json_adds_the_plan_and_the_rerendered_notes(
    service: ResultsProcess,
    client: httpx.AsyncClient,
    producer_factory: Any,
    piece: Composition,
) -> None:
    producer = await producer_factory()
    request_id = new_id()
    await send(producer, RESULTS, request_id, result_event(request_id, piece))
    await wait_status(client, service, request_id, "completed")

    response = await client.get(f"{service.url}/v1/results/{request_id}?format=json")

    assert response.status_code == 200
    body = response.json()
    assert body["plan"] == piece.plan.to_dict()
    assert body["notes"] == [note._asdict() for note in piece.piece.notes]


# -- event stream --------------------------------------------------------------------------


async def read_events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a text/event-stream; comments (pings) are skipped."""
    event, data = "message", ""
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield event, json.loads(data)
            event, data = "message", ""
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


async def test_event_stream_goes_from_accepted_to_completed(
    service: ResultsProcess,
    client: httpx.AsyncClient,
    producer_factory: Any,
    piece: Composition,
) -> None:
    producer = await producer_factory()
    request_id = new_id()
    await send(producer, INTENTS, request_id, intent_event(request_id))
    await wait_status(client, service, request_id, "accepted")

    seen: list[str] = []

    async def follow() -> None:
        async with client.stream("GET", f"{service.url}/v1/results/{request_id}/events") as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            async for event, data in read_events(r):
                assert event == "status"
                assert data["request_id"] == request_id
                seen.append(data["status"])
                if len(seen) == 1:
                    await send(producer, PLANS, request_id, plan_event(request_id, piece))
                    await send(producer, RESULTS, request_id, result_event(request_id, piece))

    await asyncio.wait_for(follow(), timeout=STEP_TIMEOUT)  # ends by itself after completed

    assert seen[0] == "accepted"
    assert seen[-1] == "completed"
    assert seen in (["accepted", "completed"], ["accepted", "processing", "completed"])


# -- duplicates, restart, readiness --------------------------------------------------------


async def test_the_same_result_twice_shows_once(
    service: ResultsProcess,
    client: httpx.AsyncClient,
    producer_factory: Any,
    piece: Composition,
) -> None:
    producer = await producer_factory()
    request_id = new_id()
    before = metric(
        (await client.get(f"{service.url}/metrics")).text,
        "kmidi_results_view_events_total",
        topic=RESULTS,
        outcome="duplicate",
    )
    first_at = datetime.now(UTC) - timedelta(seconds=5)
    await send(
        producer, RESULTS, request_id, result_event(request_id, piece, completed_at=first_at)
    )
    first = await wait_status(client, service, request_id, "completed")
    # The worker replays it after a crash: same piece, later timestamp.
    await send(producer, RESULTS, request_id, result_event(request_id, piece))

    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        text = (await client.get(f"{service.url}/metrics")).text
        if (
            metric(text, "kmidi_results_view_events_total", topic=RESULTS, outcome="duplicate")
            > before
        ):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the second result was never read")

    again = (await client.get(f"{service.url}/v1/results/{request_id}")).json()
    assert again == first, "a duplicate result must not change what clients see"
    async with client.stream("GET", f"{service.url}/v1/results/{request_id}/events") as r:
        events = [event async for event in read_events(r)]
    assert [data["status"] for _, data in events] == ["completed"]


async def test_a_new_instance_rebuilds_the_view_and_is_ready_only_after_catching_up(
    service: ResultsProcess,
    client: httpx.AsyncClient,
    producer_factory: Any,
    piece: Composition,
) -> None:
    producer = await producer_factory()
    finished, pending = new_id(), new_id()
    await send(producer, INTENTS, finished, intent_event(finished))
    await send(producer, PLANS, finished, plan_event(finished, piece))
    await send(producer, RESULTS, finished, result_event(finished, piece))
    await send(producer, INTENTS, pending, intent_event(pending))
    expected = await wait_status(client, service, finished, "completed")
    await wait_status(client, service, pending, "accepted")

    # The new instance's bootstrap address answers only once we open it: until then it
    # cannot have caught up, so /ready must say 503 (a deterministic "before" phase).
    http_port = free_port()
    bootstrap_port = next(port for port in iter(free_port, None) if port != http_port)
    broker_host, broker_port = service.bootstrap.split(",")[0].rsplit(":", 1)
    restarted = ResultsProcess(f"127.0.0.1:{bootstrap_port}", port=http_port).start()
    try:
        before = await wait_until_answering(client, restarted)
        assert before.status_code == 503
        assert before.json()["checks"]["caught_up"] is False
        assert await status_of(client, restarted, finished) == 404

        async with forward(bootstrap_port, broker_host, int(broker_port)):
            await restarted.wait_ready(client)
            # Ready means caught up: everything written before the start is there.
            replayed = (await client.get(f"{restarted.url}/v1/results/{finished}")).json()
            assert replayed == expected | {
                "result_url": f"{restarted.url}/v1/results/{finished}/midi"
            }
            assert (await client.get(f"{restarted.url}/v1/results/{pending}")).json()[
                "status"
            ] == "accepted"
            midi = await client.get(f"{restarted.url}/v1/results/{finished}/midi")
            assert midi.content == piece.midi

            text = (await client.get(f"{restarted.url}/metrics")).text
            assert metric(text, "kmidi_results_caught_up") == 1
            assert metric(text, "kmidi_results_view_entries") >= 2
            assert (
                metric(text, "kmidi_results_view_events_total", topic=RESULTS, outcome="applied")
                >= 1
            )
            # Replayed results are not end-to-end latency samples (nothing was written live).
            assert metric(text, "kmidi_result_readable_latency_seconds_count") == 0
    finally:
        restarted.stop()


async def wait_until_answering(client: httpx.AsyncClient, server: ResultsProcess) -> httpx.Response:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            return await client.get(f"{server.url}/ready")
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"never answered\n{server.logs()}")


class forward:  # noqa: N801 - reads as a context manager verb
    """A TCP forwarder from a local port to the broker, open only inside the block."""

    def __init__(self, port: int, host: str, target_port: int) -> None:
        self.port, self.host, self.target_port = port, host, target_port
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        for task in (
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ):
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def __aenter__(self) -> forward:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/results/bad%20id",
        "/v1/results/" + "x" * 65,
        "/v1/results/semi%3Bcolon/midi",
        "/v1/results/%C3%A9t%C3%A9/events",
    ],
)
async def test_malformed_request_ids_are_422_with_the_request_id(
    service: ResultsProcess, client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(f"{service.url}{path}", headers={"X-Request-ID": "bad-id-test"})

    assert response.status_code == 422
    body = response.json()
    assert body["request_id"] == "bad-id-test"
    assert body["error"]["code"] == "validation_error"
    assert response.headers["X-Request-ID"] == "bad-id-test"


@pytest.mark.parametrize(
    "query",
    ["wait=-1", "wait=abc", f"wait={LONG_POLL_MAX + 1}", "wait=nan", "wait=inf", "format=xml"],
)
async def test_bad_query_values_are_422_with_the_request_id(
    service: ResultsProcess, client: httpx.AsyncClient, query: str
) -> None:
    response = await client.get(f"{service.url}/v1/results/{new_id()}?{query}")

    assert response.status_code == 422
    body = response.json()
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert body["details"][0]["loc"][0] == "query"


async def test_probes_and_metrics(service: ResultsProcess, client: httpx.AsyncClient) -> None:
    for path in ("/live", "/ready", "/health"):
        response = await client.get(f"{service.url}{path}")
        assert response.status_code == 200, path
        assert response.json()["service"] == "results_service"
    health = (await client.get(f"{service.url}/health")).json()
    assert health["checks"] == {
        "consumer_running": True,
        "broker_connected": True,
        "caught_up": True,
    }

    text = (await client.get(f"{service.url}/metrics")).text
    for name in (
        "kmidi_results_view_entries",
        "kmidi_results_view_events_total",
        "kmidi_result_readable_latency_seconds_bucket",
        "kmidi_results_consumer_lag",
        "kmidi_http_requests_total",
    ):
        assert name in text, name
    assert metric(text, "kmidi_result_readable_latency_seconds_count") >= 1, (
        "live results were timed"
    )
