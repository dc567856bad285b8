"""The stream worker as a real process against a real Kafka broker.

One worker (a unique faust app id, i.e. its own consumer group and changelog) serves the
whole module; tests tell their messages apart by unique request IDs, because the worker
uses the fixed topic names of ``schemas.topics``. Restart tests restart that same worker.
MIDI is checked with ``midicsv``, a parser independent of the code that wrote it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.structs import ConsumerRecord  # type: ignore[import-untyped]

from kmidi.cli.broker import free_port
from schemas.events import MAX_EVENT_BYTES
from schemas.topics import (
    DEADLETTER,
    INTENTS,
    INTERROGATION_REPLIES,
    PLANS,
    RESULTS,
)
from tests.integration.conftest import ConsumerFactory, ProducerFactory, topic_overrides
from tests.integration.stream_helpers import (
    SLOW_SEEK_ENV,
    SLOW_SEEK_MODULE,
    TRACEPARENT,
    WAIT,
    IntentBatch,
    collect,
    header_dict,
    headers_for,
    intent_event,
    new_request_id,
    say_turn,
    value_of,
    watch,
)
from tests.integration.worker_process import WorkerProcess

# --- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    base = tmp_path_factory.mktemp("worker")
    process = WorkerProcess(
        bootstrap=kafka_bootstrap,
        app_id=f"kmidi-worker-test-{uuid.uuid4().hex[:8]}",
        log_path=base / "worker.log",
        data_dir=base / "data",
        # A slow committed-offset lookup, so every restart meets the seek race.
        entry_module=SLOW_SEEK_MODULE,
        env=SLOW_SEEK_ENV,
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def keyed(*request_ids: str) -> Callable[[ConsumerRecord], bool]:
    wanted = {rid.encode() for rid in request_ids}
    return lambda record: record.key in wanted


def results_for(records: list[ConsumerRecord], request_id: str) -> list[dict[str, Any]]:
    return [value_of(r) for r in records if r.topic == RESULTS and r.key == request_id.encode()]


def has_results(*request_ids: str) -> Callable[[list[ConsumerRecord]], bool]:
    return lambda records: all(results_for(records, rid) for rid in request_ids)


def midicsv_note_tracks(midi: bytes) -> dict[int, int]:
    """Track number → count of sounding notes, read by midicsv (not by our MIDI code)."""
    midicsv = shutil.which("midicsv")
    assert midicsv, "midicsv is not installed: apt-get install midicsv"
    with tempfile.NamedTemporaryFile(suffix=".mid") as handle:
        handle.write(midi)
        handle.flush()
        output = subprocess.run(
            [midicsv, handle.name], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    tracks: dict[int, int] = {}
    for line in output.splitlines():
        fields = [field.strip() for field in line.split(",")]
        if len(fields) >= 6 and fields[2] == "Note_on_c" and int(fields[5]) > 0:
            track = int(fields[0])
            tracks[track] = tracks.get(track, 0) + 1
    return tracks


def assert_completed_with_midi(result: dict[str, Any]) -> bytes:
    assert result["status"] == "completed", result.get("error")
    assert result["schema"] == "kmidi.result.v1"
    midi = base64.b64decode(result["midi_base64"])
    assert midi[:4] == b"MThd"
    tracks = midicsv_note_tracks(midi)
    assert len(tracks) >= 2, f"expected several tracks with notes, midicsv saw {tracks}"
    assert result["duration_seconds"] > 0
    assert result["plan"]
    assert result["affect"]
    return midi


def worker_logged(worker: WorkerProcess, request_id: str) -> list[dict[str, Any]]:
    return [entry for entry in worker.json_lines() if entry.get("request_id") == request_id]


# --- the happy path ---------------------------------------------------------------------


async def test_minimal_intent_completes_with_valid_midi_and_request_id(
    worker: WorkerProcess,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
) -> None:
    rid = new_request_id("plain")
    watcher = await watch(consumer_factory, PLANS, RESULTS)
    producer = await producer_factory()
    await producer.send_and_wait(
        INTENTS, intent_event(rid), key=rid.encode(), headers=headers_for(rid)
    )

    # One consumer reads both topics, so the result may be fetched before the plan.
    records = await collect(
        watcher, keep=keyed(rid), until=lambda rs: {PLANS, RESULTS} <= {r.topic for r in rs}
    )
    result_record = next(r for r in records if r.topic == RESULTS)
    plan_record = next(r for r in records if r.topic == PLANS)
    result = value_of(result_record)
    assert result["request_id"] == rid
    assert_completed_with_midi(result)
    assert result["seed"] == value_of(plan_record)["seed"]
    assert result["plan"]["seed_source"] == "request_id"

    for record in (plan_record, result_record):
        headers = header_dict(record)
        assert headers["x-request-id"] == rid
        assert headers["content-type"] == "application/json"
        trace, span = headers["traceparent"].split("-")[1:3]
        assert trace == TRACEPARENT.split("-")[1], "output continues the input's trace"
        assert span != TRACEPARENT.split("-")[2], "each hop is a new span"

    lines = worker_logged(worker, rid)
    assert lines, "the worker logged JSON lines carrying the request ID"
    assert {line["service"] for line in lines} == {"kmidi-worker"}
    assert {"interrogation", "generation"} <= {line.get("stage") for line in lines}


async def test_intent_written_by_kcat_completes(
    worker: WorkerProcess, consumer_factory: ConsumerFactory
) -> None:
    kcat = shutil.which("kcat")
    assert kcat, "kcat is not installed: apt-get install kcat"
    rid = new_request_id("kcat")
    watcher = await watch(consumer_factory, RESULTS)
    line = rid.encode() + b":" + intent_event(rid, "we won the championship!") + b"\n"
    await asyncio.to_thread(
        subprocess.run,
        [kcat, "-P", "-b", worker.bootstrap, "-t", INTENTS, "-K:", "-H", f"x-request-id={rid}"],
        input=line,
        check=True,
        timeout=60,
    )

    records = await collect(watcher, keep=keyed(rid), until=has_results(rid))
    assert_completed_with_midi(results_for(records, rid)[0])
    assert header_dict(records[0])["x-request-id"] == rid
    assert worker_logged(worker, rid)


# --- failures ---------------------------------------------------------------------------


async def test_the_changelog_gets_the_replication_settings(
    worker: WorkerProcess, kafka_admin: AIOKafkaAdminClient
) -> None:
    # The broker's default min.insync.replicas is 1 too: only a topic-level override proves
    # the worker passed TOPIC_MIN_INSYNC_REPLICAS to faust.
    changelog = f"{worker.app_id}-conversations-changelog"
    assert (await topic_overrides(kafka_admin, changelog))["min.insync.replicas"] == "1"


async def test_health_pages_answer_live_and_ready(worker: WorkerProcess) -> None:
    base = f"http://127.0.0.1:{worker.web_port}"
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
        live = await client.get("/live")
        assert live.status_code == 200
        assert live.json() == {"live": True}
        # The worker logged "Ready" after table recovery; a rebalance may still be settling.
        deadline = time.monotonic() + WAIT
        while True:
            ready = await client.get("/ready")
            if ready.status_code == 200 or time.monotonic() > deadline:
                break
            assert ready.status_code == 503, ready.text
            await asyncio.sleep(0.5)
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"ready": True, "rebalancing": False, "recovering": False}
    # The container probe command: exit 0 against this worker, 1 against a closed port.
    for port, code in ((worker.web_port, 0), (free_port(), 1)):
        probe = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "stream_processors.probe", "ready"],
            env={**os.environ, "FAUST_WEB_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert probe.returncode == code, probe.stdout + probe.stderr


async def test_poison_messages_are_dead_lettered_and_the_worker_keeps_going(
    worker: WorkerProcess,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
) -> None:
    not_json_id = new_request_id("notjson")
    schema_id = new_request_id("schema")
    large_id = new_request_id("large")
    plan_id = new_request_id("badplan")
    good_id = new_request_id("good")
    watcher = await watch(consumer_factory, RESULTS, DEADLETTER)
    # gzip lets a > 1 MiB value through the broker's default 1 MiB record limit.
    producer = await producer_factory(compression_type="gzip", max_request_size=4 * 1024 * 1024)

    not_json = b"\xff\xfe this is { not json"
    wrong_schema = json.dumps(
        {"schema": "kmidi.intent.v1", "request_id": schema_id, "intent": {"bmp": 120}}
    ).encode()
    too_large = json.dumps(
        {
            "schema": "kmidi.intent.v1",
            "request_id": large_id,
            "intent": {"emotional_intent": "x"},
            "padding": "p" * (MAX_EVENT_BYTES + 100),
        }
    ).encode()
    broken_plan = json.dumps(
        {
            "schema": "kmidi.plan.v1",
            "request_id": plan_id,
            "seed": 1,
            "intent": {"emotional_intent": "grief"},
            "affect": {"primary": "grief"},
            "plan": {"seed": 1, "tempo_bpm": "fast"},
            "submitted_at": "2026-01-01T00:00:00Z",
        }
    ).encode()
    sent = {
        not_json_id: (INTENTS, not_json),
        schema_id: (INTENTS, wrong_schema),
        large_id: (INTENTS, too_large),
        plan_id: (PLANS, broken_plan),
    }
    for rid, (topic, value) in sent.items():
        await producer.send_and_wait(topic, value, key=rid.encode(), headers=headers_for(rid))
    await producer.send_and_wait(
        INTENTS, intent_event(good_id), key=good_id.encode(), headers=headers_for(good_id)
    )

    everyone = [*sent, good_id]
    records = await collect(
        watcher,
        keep=keyed(*everyone),
        until=lambda rs: (
            has_results(*everyone)(rs)
            and len({r.key for r in rs if r.topic == DEADLETTER}) == len(sent)
        ),
    )
    letters = {r.key.decode(): value_of(r) for r in records if r.topic == DEADLETTER}
    expected = {
        not_json_id: ("interrogation", "not_json"),
        schema_id: ("interrogation", "schema_invalid"),
        large_id: ("interrogation", "too_large"),
        plan_id: ("generation", "stage_error"),
    }
    for rid, (stage, reason) in expected.items():
        letter = letters[rid]
        assert (letter["stage"], letter["reason"]) == (stage, reason), letter
        assert letter["request_id"] == rid
        assert letter["original_topic"] == sent[rid][0]
        assert letter["original_offset"] >= 0
        assert base64.b64decode(letter["original_key_base64"]) == rid.encode()
        assert letter["original_headers"]["x-request-id"] == rid
        original = base64.b64decode(letter["original_value_base64"])
        if reason == "too_large":
            assert sent[rid][1].startswith(original)
            assert len(original) < len(sent[rid][1])
        else:
            assert original == sent[rid][1]
    assert "bmp" in letters[schema_id]["error"], "pydantic's message names the bad field"

    # Each request still ends: a failed result, not a status pending forever.
    for rid in (not_json_id, schema_id, large_id):
        (failed,) = results_for(records, rid)
        assert failed["status"] == "failed"
        assert failed["error"]["code"] == "invalid_event"
    (render_failed,) = results_for(records, plan_id)
    assert render_failed["error"]["code"] == "generation_failed"
    assert_completed_with_midi(results_for(records, good_id)[0])

    metrics = worker.metrics()
    assert 'kmidi_deadlettered_total{reason="not_json",stage="interrogation"}' in metrics
    assert 'kmidi_deadlettered_total{reason="stage_error",stage="generation"}' in metrics
    assert 'kmidi_results_total{status="failed"}' in metrics


async def test_bad_technical_wish_fails_the_request_without_dead_letter(
    worker: WorkerProcess,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
) -> None:
    bad_id = new_request_id("badkey")
    after_id = new_request_id("after")
    watcher = await watch(consumer_factory, RESULTS, DEADLETTER)
    producer = await producer_factory()
    await producer.send_and_wait(
        INTENTS,
        intent_event(bad_id, technical={"key": "H#"}),
        key=bad_id.encode(),
        headers=headers_for(bad_id),
    )
    await producer.send_and_wait(
        INTENTS, intent_event(after_id), key=after_id.encode(), headers=headers_for(after_id)
    )

    records = await collect(
        watcher, keep=keyed(bad_id, after_id), until=has_results(bad_id, after_id)
    )
    (failed,) = results_for(records, bad_id)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "invalid_key"
    assert failed["error"]["stage"] == "interrogation"
    assert "H#" in failed["error"]["message"]
    # The worker handles one partition's messages in order and dead-letters before it
    # answers, so a dead letter for bad_id would have been read by now.
    assert not [r for r in records if r.topic == DEADLETTER]


# --- determinism and state --------------------------------------------------------------


async def test_replayed_intent_yields_byte_identical_midi(
    worker: WorkerProcess,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
) -> None:
    rid = new_request_id("replay")
    watcher = await watch(consumer_factory, RESULTS)
    producer = await producer_factory()
    event = intent_event(rid, "anxious but hopeful about tomorrow")
    for _ in range(2):
        await producer.send_and_wait(INTENTS, event, key=rid.encode(), headers=headers_for(rid))

    records = await collect(
        watcher, keep=keyed(rid), until=lambda rs: len(results_for(rs, rid)) == 2
    )
    first, second = results_for(records, rid)
    assert_completed_with_midi(first)
    assert first["midi_base64"] == second["midi_base64"]
    assert first["seed"] == second["seed"]
    assert first["plan"] == second["plan"]


async def test_conversation_continues_after_a_worker_restart(
    worker: WorkerProcess,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
) -> None:
    session = f"s-{uuid.uuid4().hex[:12]}"
    watcher = await watch(consumer_factory, INTERROGATION_REPLIES)
    producer = await producer_factory()

    async def say(message: str, turn: int) -> dict[str, Any]:
        return await say_turn(producer, watcher, session, message, turn)

    first = await say("hello", 1)
    assert first["turn"] == 1
    assert not first["ready"]
    assert first["question"]
    second = await say("I feel lonely and sad since she left", 2)
    assert second["turn"] == 2

    await asyncio.to_thread(worker.restart)

    third = await say("not sure, maybe slow piano", 3)
    assert third["turn"] == 3, "the session state was rebuilt from the changelog"
    assert third["ready"]
    assert "lonely" in third["intent"]["emotional_intent"], third["intent"]


# --- crash safety -----------------------------------------------------------------------


async def test_sigkill_mid_batch_loses_nothing(
    worker: WorkerProcess,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
    kafka_admin: AIOKafkaAdminClient,
) -> None:
    total = 500
    batch = uuid.uuid4().hex[:8]
    ids = [f"t-kill-{batch}-{n:04d}" for n in range(total)]
    wanted = {rid.encode() for rid in ids}
    producer = await producer_factory(linger_ms=5)
    # Conversation state in the changelog makes the restarted worker take faust's table
    # recovery path, which resumes the stream partitions before seeking them.
    replies = await watch(consumer_factory, INTERROGATION_REPLIES)
    await say_turn(producer, replies, f"s-kill-{batch}", "hello", 1)
    intents = IntentBatch(
        producer, await watch(consumer_factory, RESULTS, PLANS), kafka_admin, worker
    )
    await intents.send(ids)

    # Kill once a part of the batch is done, while the rest is in flight.
    await intents.wait_completed(total // 5)
    assert len(intents.completed()) < total, "the kill must land in the middle of the batch"
    killed_pid = worker.pid
    assert worker.kill() == -9
    await asyncio.to_thread(worker.start)
    assert worker.pid != killed_pid

    await intents.wait_completed(total, timeout=150)
    assert intents.completed() == wanted
    intents.assert_duplicates_identical()

    # Everything is processed, so the lag of the intents partitions drains to zero.
    deadline = time.monotonic() + WAIT
    while True:
        lags = [
            float(line.rsplit(" ", 1)[1])
            for line in (await asyncio.to_thread(worker.metrics)).splitlines()
            if line.startswith("kmidi_consumer_lag{partition=") and f'topic="{INTENTS}"' in line
        ]
        if len(lags) == 6 and sum(lags) == 0:
            break
        assert time.monotonic() < deadline, f"intents lag did not drain: {lags}"
        await asyncio.sleep(0.5)


# --- one hop fewer: the interrogation stage renders, the generation stage skips ----------


async def test_own_plans_are_marked_and_other_plans_still_rendered(
    worker: WorkerProcess,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
) -> None:
    from datetime import UTC, datetime

    from kmidi.affect import analyse_intent
    from kmidi.plan import build_plan
    from kmidi.render import render_midi
    from schemas.events import PlanReady, dump_event
    from schemas.intent import Intent

    own, other = new_request_id("own-plan"), new_request_id("other-plan")
    intent = Intent(emotional_intent="calm evening by the sea")
    affect = analyse_intent(intent)
    plan = build_plan(intent, affect, seed=5)
    other_plan = dump_event(
        PlanReady(
            request_id=other,
            intent=intent,
            seed=5,
            affect=affect.to_dict(),
            plan=plan.to_dict(),
            submitted_at=datetime.now(UTC),
        )
    )
    watcher = await watch(consumer_factory, PLANS, RESULTS)
    producer = await producer_factory()
    await producer.send_and_wait(
        INTENTS, intent_event(own), key=own.encode(), headers=headers_for(own)
    )
    # Same key, so same partition and order: the marked copy first. Were it rendered, a
    # second result would be written before the unmarked copy's.
    marked = [*headers_for(other), ("kmidi-rendered", b"interrogation")]
    await producer.send_and_wait(PLANS, other_plan, key=other.encode(), headers=marked)
    await producer.send_and_wait(PLANS, other_plan, key=other.encode(), headers=headers_for(other))

    records = await collect(watcher, keep=keyed(own, other), until=has_results(own, other))
    await asyncio.sleep(1.0)  # a stray second result would have arrived by now
    batch = await watcher.getmany(timeout_ms=500)
    records += [r for rs in batch.values() for r in rs if keyed(own, other)(r)]

    own_plans = [r for r in records if r.topic == PLANS and r.key == own.encode()]
    assert [header_dict(r).get("kmidi-rendered") for r in own_plans] == ["interrogation"]
    assert len(results_for(records, own)) == 1, "the generation stage skipped the marked plan"
    assert_completed_with_midi(results_for(records, own)[0])
    other_results = results_for(records, other)
    assert len(other_results) == 1, "the marked copy was skipped, the unmarked one rendered"
    midi = assert_completed_with_midi(other_results[0])
    assert midi == render_midi(plan).midi, "byte-identical to rendering the plan in-process"
