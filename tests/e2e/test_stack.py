"""The whole pipeline as processes (`kmidi up`), driven over HTTP and Kafka like a user."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]

from schemas.topics import INTERROGATIONS, RESULTS
from tests.e2e.stack_process import RunningStack, start_stack

pytestmark = pytest.mark.e2e

SEED_BODY = {"intent": {"emotional_intent": "I am feeling grief"}, "output_format": "midi"}


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """`kmidi up` against the session's broker, shared by the tests of this module."""
    running = start_stack(
        tmp_path_factory.mktemp("stack"),
        bootstrap=kafka_bootstrap,
        # The 500-intent test is a crash test, not a rate-limit test; the conversation
        # test's turn may wait for a restarted worker to rejoin its group.
        extra_env={"RATE_LIMIT_ENABLED": "false", "INTERROGATE_TIMEOUT_SECONDS": "20"},
    )
    try:
        yield running
    finally:
        running.stop()


def midicsv_rows(midi: bytes, tmp_path: Path) -> list[list[str]]:
    """Parse MIDI with Debian's midicsv, a C parser independent of mido."""
    path = tmp_path / "piece.mid"
    path.write_bytes(midi)
    out = subprocess.run(["midicsv", str(path)], capture_output=True, text=True, check=True)
    return [[cell.strip() for cell in line.split(",")] for line in out.stdout.splitlines()]


async def read_result_headers(bootstrap: str, request_id: str, timeout: float) -> dict[str, str]:
    """Headers of the result event for ``request_id``, read with a plain Kafka consumer."""
    consumer = AIOKafkaConsumer(
        RESULTS, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key == request_id.encode():
                        return {k: (v or b"").decode() for k, v in record.headers}
    finally:
        await consumer.stop()
    raise AssertionError(f"no result event for {request_id} within {timeout} s")


def test_seed_request_becomes_a_playable_midi_with_the_request_id_on_every_hop(
    stack: RunningStack, tmp_path: Path
) -> None:
    request_id = f"e2e-{uuid.uuid4().hex[:12]}"
    accepted = httpx.post(
        f"{stack.api_url}/generate",
        json=SEED_BODY,
        headers={"X-Request-ID": request_id},
        timeout=10,
    )
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["request_id"] == request_id
    assert accepted.headers["location"] == body["status_url"]
    assert accepted.headers["x-request-id"] == request_id

    status = httpx.get(body["status_url"], params={"wait": 60}, timeout=70).json()
    assert status["status"] == "completed", status
    assert status["affect"]["primary"] == "grief"

    midi = httpx.get(body["result_url"], timeout=10)
    assert midi.status_code == 200
    assert midi.headers["content-type"].startswith("audio/midi")
    rows = midicsv_rows(midi.content, tmp_path)
    header = next(row for row in rows if row[2] == "Header")
    assert header[3] == "1", "format-1 MIDI"
    tracks_with_notes = {row[0] for row in rows if row[2] == "Note_on_c" and row[5] != "0"}
    assert len(tracks_with_notes) >= 3, f"tracks with notes: {sorted(tracks_with_notes)}"

    headers = asyncio.run(read_result_headers(stack.bootstrap, request_id, timeout=30))
    assert headers["x-request-id"] == request_id
    assert headers["traceparent"].startswith("00-")

    services_logging_it = set()
    for line in stack.log_text().splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("request_id") == request_id:
            services_logging_it.add(entry.get("service"))
    assert {"producer_api", "kmidi-worker", "results_service"} <= services_logging_it, (
        services_logging_it
    )


def test_worker_killed_mid_batch_loses_and_duplicates_nothing(stack: RunningStack) -> None:
    total = 500
    ids = [f"kill-{uuid.uuid4().hex[:10]}-{n}" for n in range(total)]
    workers = stack.pids_of("stream_processors")
    assert workers, "the stack runs a stream worker"

    async def submit_all() -> None:
        accepted = 0
        semaphore = asyncio.Semaphore(20)
        async with httpx.AsyncClient(timeout=30) as client:

            async def submit(index: int, request_id: str) -> None:
                nonlocal accepted
                text = ["I am feeling grief", "we won!", "so anxious", "calm lake"][index % 4]
                async with semaphore:
                    response = await client.post(
                        f"{stack.api_url}/v1/generate",
                        json={"intent": {"emotional_intent": text}},
                        headers={"X-Request-ID": request_id},
                    )
                assert response.status_code == 202, response.text
                accepted += 1
                if accepted == total // 3:
                    # Kill the worker while intents are still arriving and being processed.
                    for pid in workers:
                        os.kill(pid, signal.SIGKILL)

            async with asyncio.TaskGroup() as group:
                for index, request_id in enumerate(ids):
                    group.create_task(submit(index, request_id))

    asyncio.run(submit_all())
    # `kmidi up` restarts the killed worker; it resumes from the committed offsets.
    deadline = time.monotonic() + 180
    pending = set(ids)
    statuses: dict[str, str] = {}
    with httpx.Client(timeout=30) as client:
        while pending and time.monotonic() < deadline:
            for request_id in list(pending):
                status = client.get(f"{stack.results_url}/v1/results/{request_id}").json()
                if status.get("status") in {"completed", "failed"}:
                    statuses[request_id] = status["status"]
                    pending.discard(request_id)
            time.sleep(1)
    assert not pending, f"{len(pending)} of {total} never finished"
    assert sorted(statuses) == sorted(ids)
    assert set(statuses.values()) == {"completed"}

    restarted = stack.pids_of("stream_processors")
    assert restarted, "the stack restarted the killed worker"
    assert not set(restarted) & set(workers)

    per_id = asyncio.run(collect_results(stack.bootstrap, set(ids), timeout=60))
    assert set(per_id) == set(ids)
    for request_id, payloads in per_id.items():
        # At-least-once may write a result twice; the copies must be the same piece.
        assert len(set(payloads)) == 1, f"{request_id}: replay produced different MIDI"


def test_conversation_survives_a_worker_kill_and_generates(
    stack: RunningStack, tmp_path: Path
) -> None:
    def say(payload: dict[str, object]) -> dict[str, Any]:
        """One turn; a 504 is retried with the same X-Request-ID, as docs/api.md says."""
        headers = {"X-Request-ID": f"turn-{uuid.uuid4().hex[:12]}"}
        started = time.monotonic()
        while True:
            response = httpx.post(
                f"{stack.api_url}/v1/interrogate", json=payload, headers=headers, timeout=60
            )
            if response.status_code == 200:
                print(f"turn answered after {time.monotonic() - started:.1f} s")
                return dict(response.json())
            if response.status_code != 504 or time.monotonic() - started > 150:
                pytest.fail(f"{response.text}\n--- kmidi up log ---\n{stack.log_tail(80)}")
            print(f"504 after {time.monotonic() - started:.1f} s; retrying with the same ID")
            print(stack.describe_group("kmidi-worker", INTERROGATIONS))

    first = say({"message": "I feel so heavy lately"})
    assert first["turn"] == 1
    assert not first["ready"]
    assert first["question"]
    session_id = first["session_id"]

    workers = stack.pids_of("stream_processors")
    for pid in workers:
        os.kill(pid, signal.SIGKILL)

    # Answered once `kmidi up` has restarted the worker and it has rebuilt the session
    # table from its changelog: the conversation continues where it was.
    second = say({"session_id": session_id, "message": "my dad passed away in the spring"})
    assert second["turn"] == 2
    assert second["intent"]["core_wound"] == "my dad passed away in the spring"
    assert "heavy" in second["intent"]["emotional_intent"], "turn 1 was remembered"
    assert not set(stack.pids_of("stream_processors")) & set(workers)

    third = say(
        {
            "session_id": session_id,
            "message": "slow, in D minor, about 16 bars",
            "submit": True,
        }
    )
    assert third["turn"] == 3
    assert third["ready"]
    assert third["generation"] is not None
    status_url = third["generation"]["status_url"]
    status = httpx.get(status_url, params={"wait": 60}, timeout=70).json()
    assert status["status"] == "completed", status
    midi = httpx.get(third["generation"]["result_url"], timeout=10).content
    rows = midicsv_rows(midi, tmp_path)
    key_signatures = {(row[3], row[4].strip('"')) for row in rows if row[2] == "Key_signature"}
    assert ("-1", "minor") in key_signatures, key_signatures  # D minor: one flat
    tempos = {int(row[3]) for row in rows if row[2] == "Tempo"}
    assert round(60_000_000 / 70) in tempos


async def collect_results(bootstrap: str, ids: set[str], timeout: float) -> dict[str, list[str]]:
    """request_id → midi_base64 of every result event written for it."""
    consumer = AIOKafkaConsumer(
        RESULTS, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: dict[str, list[str]] = {}
    try:
        end = await consumer.end_offsets(list(consumer.assignment()))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    key = (record.key or b"").decode()
                    if key in ids and record.value:
                        value = json.loads(record.value)
                        found.setdefault(key, []).append(value["midi_base64"])
            positions = {tp: await consumer.position(tp) for tp in end}
            if all(positions[tp] >= offset for tp, offset in end.items()):
                break
    finally:
        await consumer.stop()
    return found


def test_kmidi_up_with_embedded_broker_starts_and_stops_without_leftovers(
    tmp_path: Path,
) -> None:
    stack = start_stack(tmp_path, bootstrap=None)
    children = stack.service_pids()
    try:
        health = httpx.get(f"{stack.api_url}/health", timeout=5)
        assert health.status_code == 200
        print(f"kmidi up with its own broker: ready in {stack.started_in_seconds:.1f} s")
        assert any("kafka.Kafka" in " ".join(psutil.Process(pid).cmdline()) for pid in children)
    finally:
        code = stack.stop(signal.SIGINT)
    assert code == 0, stack.log_text()[-3000:]
    leftovers = [pid for pid in children if psutil.pid_exists(pid) and _alive(pid)]
    assert not leftovers, f"processes left after Ctrl-C: {leftovers}"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
