"""The results service's materialised view: ordering, duplicates, junk, memory bound, waiters."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition  # type: ignore[import-untyped]
from prometheus_client import REGISTRY

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
from stream_processors.results_service.consumer import ResultsConsumer
from stream_processors.results_service.store import Outcome, ResultsView

SUBMITTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
MIDI = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x00\x04\x00\xff\x2f\x00"
PLAN = {"key": "D minor", "bpm": 72, "sections": [{"name": "A", "bars": 4}]}
AFFECT = {"valence": -0.7, "arousal": 0.3}


def intent(request_id: str, *, seed: int | None = None) -> bytes:
    return dump_event(
        IntentSubmitted(
            request_id=request_id,
            intent=Intent(emotional_intent="I am feeling grief"),
            seed=seed,
            submitted_at=SUBMITTED,
        )
    )


def plan(request_id: str) -> bytes:
    return dump_event(
        PlanReady(
            request_id=request_id,
            intent=Intent(emotional_intent="I am feeling grief"),
            seed=7,
            affect=AFFECT,
            plan=PLAN,
            submitted_at=SUBMITTED,
            planned_at=SUBMITTED + timedelta(seconds=1),
        )
    )


def result(
    request_id: str,
    *,
    midi: bytes | None = MIDI,
    status: str = "completed",
    error: ErrorInfo | None = None,
    completed_after: float = 2.0,
    **extra: Any,
) -> bytes:
    return dump_event(
        GenerationResult.model_validate(
            {
                "request_id": request_id,
                "status": status,
                "midi_base64": base64.b64encode(midi).decode() if midi is not None else None,
                "affect": AFFECT,
                "plan": PLAN,
                "error": error,
                "seed": 7,
                "duration_seconds": 12.5,
                "submitted_at": SUBMITTED,
                "completed_at": SUBMITTED + timedelta(seconds=completed_after),
                **extra,
            }
        )
    )


def key(request_id: str) -> bytes:
    return request_id.encode()


# -- stages and ordering -------------------------------------------------------------------


def test_stages_progress_accepted_processing_completed() -> None:
    view = ResultsView(max_entries=10)

    first = view.apply(INTENTS, key("r1"), intent("r1"))
    assert (first.outcome, first.previous, first.status) == (Outcome.APPLIED, None, "accepted")
    second = view.apply(PLANS, key("r1"), plan("r1"))
    assert (second.previous, second.status) == ("accepted", "processing")
    entry = view.get("r1")
    assert entry is not None
    assert entry.plan() == PLAN
    assert entry.affect == AFFECT
    third = view.apply(RESULTS, key("r1"), result("r1"))
    assert (third.previous, third.status, third.first_result) == ("processing", "completed", True)

    entry = view.get("r1")
    assert entry is not None
    assert entry.midi == MIDI
    assert entry.midi_sha256 == hashlib.sha256(MIDI).hexdigest()
    assert entry.submitted_at == SUBMITTED
    assert entry.updated_at == SUBMITTED + timedelta(seconds=2)
    assert entry.duration_seconds == 12.5
    assert entry.seed == 7
    assert entry.version == 3


def test_result_before_intent_and_plan_stays_completed() -> None:
    view = ResultsView(max_entries=10)

    assert view.apply(RESULTS, key("r1"), result("r1")).first_result
    late_plan = view.apply(PLANS, key("r1"), plan("r1"))
    late_intent = view.apply(INTENTS, key("r1"), intent("r1"))

    assert late_plan.outcome is Outcome.STALE
    assert late_intent.outcome is Outcome.STALE
    entry = view.get("r1")
    assert entry is not None
    assert entry.status == "completed"
    assert entry.version == 1
    assert entry.midi == MIDI


def test_plan_before_intent_is_processing_and_intent_does_not_go_back() -> None:
    view = ResultsView(max_entries=10)

    view.apply(PLANS, key("r1"), plan("r1"))
    assert view.apply(INTENTS, key("r1"), intent("r1")).outcome is Outcome.STALE

    entry = view.get("r1")
    assert entry is not None
    assert entry.status == "processing"


def test_failed_result_keeps_the_error() -> None:
    view = ResultsView(max_entries=10)
    error = ErrorInfo(code="invalid_key", message='key "H#" not understood', stage="generation")

    view.apply(INTENTS, key("r1"), intent("r1"))
    applied = view.apply(RESULTS, key("r1"), result("r1", status="failed", midi=None, error=error))

    assert (applied.status, applied.first_result) == ("failed", True)
    entry = view.get("r1")
    assert entry is not None
    assert entry.error == error
    assert entry.midi is None


# -- duplicates ----------------------------------------------------------------------------


def test_identical_result_twice_is_one_result() -> None:
    view = ResultsView(max_entries=10)
    view.apply(RESULTS, key("r1"), result("r1", completed_after=2))
    entry = view.get("r1")
    assert entry is not None
    version, updated = entry.version, entry.updated_at

    # A replay after a worker crash: same piece, a later completed_at.
    again = view.apply(RESULTS, key("r1"), result("r1", completed_after=9))

    assert again.outcome is Outcome.DUPLICATE
    assert not again.first_result
    assert (entry.version, entry.updated_at) == (version, updated)
    assert len(view) == 1


def test_different_later_result_replaces_the_first() -> None:
    view = ResultsView(max_entries=10)
    error = ErrorInfo(code="render_crash", message="boom")
    view.apply(RESULTS, key("r1"), result("r1", status="failed", midi=None, error=error))

    replaced = view.apply(RESULTS, key("r1"), result("r1"))

    assert replaced.outcome is Outcome.APPLIED
    assert not replaced.first_result, "latency is measured once per request"
    entry = view.get("r1")
    assert entry is not None
    assert (entry.status, entry.error, entry.midi) == ("completed", None, MIDI)


def test_repeated_intent_and_plan_are_duplicates() -> None:
    view = ResultsView(max_entries=10)
    view.apply(INTENTS, key("r1"), intent("r1"))
    assert view.apply(INTENTS, key("r1"), intent("r1")).outcome is Outcome.DUPLICATE
    view.apply(PLANS, key("r1"), plan("r1"))
    assert view.apply(PLANS, key("r1"), plan("r1")).outcome is Outcome.DUPLICATE


# -- junk ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "value", "reason"),
    [
        (INTENTS, b"not json at all", "not_json"),
        (PLANS, b"\xff\xfe\x00", "not_json"),
        (RESULTS, b'{"schema": "kmidi.result.v1"', "not_json"),
        (RESULTS, b"[1, 2, 3]", "schema_invalid"),
        (
            INTENTS,
            b'{"schema": "kmidi.intent.v2", "request_id": "r1", "intent": {}}',
            "schema_invalid",
        ),
        (
            RESULTS,
            b'{"schema": "kmidi.result.v1", "request_id": "a/b", "status": "completed"}',
            "schema_invalid",
        ),
        (
            RESULTS,
            b'{"schema": "kmidi.result.v1", "request_id": "r1", "status": "done"}',
            "schema_invalid",
        ),
        (
            RESULTS,
            b'{"schema": "kmidi.result.v1", "request_id": "r1", "status": "completed",'
            b' "midi_base64": "@@not base64@@"}',
            "bad_midi_base64",
        ),
    ],
)
def test_junk_is_counted_and_skipped(topic: str, value: bytes, reason: str) -> None:
    view = ResultsView(max_entries=10)
    headers = build_headers("from-header", "00-" + "1" * 32 + "-" + "2" * 16 + "-01")

    applied = view.apply(topic, key("r1"), value, headers)

    assert applied.outcome is Outcome.INVALID
    assert applied.reason == reason
    assert applied.request_id == "from-header", "the log line can still name the request"
    assert len(view) == 0


def test_junk_does_not_disturb_an_existing_entry() -> None:
    view = ResultsView(max_entries=10)
    view.apply(INTENTS, key("r1"), intent("r1"))

    view.apply(RESULTS, key("r1"), b'{"request_id": "r1"}')

    entry = view.get("r1")
    assert entry is not None
    assert (entry.status, entry.version) == ("accepted", 1)


def test_other_topics_are_ignored_and_tombstones_delete_results() -> None:
    view = ResultsView(max_entries=10)
    assert view.apply("kmidi.deadletter.v1", None, b"{}").outcome is Outcome.IGNORED
    assert view.apply(INTENTS, key("r1"), None).outcome is Outcome.INVALID

    view.apply(RESULTS, key("r1"), result("r1"))
    assert view.apply(RESULTS, key("r1"), None).outcome is Outcome.DELETED
    assert view.get("r1") is None


# -- memory bound --------------------------------------------------------------------------


def test_least_recently_used_entries_are_evicted_first() -> None:
    view = ResultsView(max_entries=3)
    for request_id in ("a", "b", "c"):
        view.apply(RESULTS, key(request_id), result(request_id))
    assert view.get("a") is not None  # reading "a" makes "b" the least recently used

    applied = view.apply(INTENTS, key("d"), intent("d"))

    assert applied.evicted == 1
    assert len(view) == 3
    assert "b" not in view
    assert all(request_id in view for request_id in ("a", "c", "d"))


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ResultsView(max_entries=0)


# -- waiters -------------------------------------------------------------------------------


def _finished(entry: object) -> bool:
    return entry is not None and getattr(entry, "is_terminal", False)


async def test_waiter_is_woken_by_the_result() -> None:
    view = ResultsView(max_entries=10)
    view.apply(INTENTS, key("r1"), intent("r1"))
    waiting = asyncio.create_task(view.wait_until("r1", _finished, timeout=30))
    await asyncio.sleep(0)
    assert view.waiter_count() == 1

    view.apply(PLANS, key("r1"), plan("r1"))
    await asyncio.sleep(0)
    assert not waiting.done(), "processing is not finished"
    view.apply(RESULTS, key("r1"), result("r1"))

    entry = await asyncio.wait_for(waiting, timeout=5)  # bound: must not hang
    assert entry is not None
    assert entry.status == "completed"
    assert view.waiter_count() == 0


async def test_waiter_for_an_unknown_id_sees_it_appear() -> None:
    view = ResultsView(max_entries=10)
    waiting = asyncio.create_task(view.wait_until("late", lambda e: e is not None, timeout=30))
    await asyncio.sleep(0)

    view.apply(INTENTS, key("late"), intent("late"))

    entry = await asyncio.wait_for(waiting, timeout=5)
    assert entry is not None
    assert entry.status == "accepted"


async def test_wait_ends_at_the_timeout_with_the_current_state() -> None:
    view = ResultsView(max_entries=10)
    view.apply(INTENTS, key("r1"), intent("r1"))

    entry = await asyncio.wait_for(view.wait_until("r1", _finished, timeout=0.05), timeout=5)
    assert entry is not None
    assert entry.status == "accepted"
    assert await view.wait_until("unknown", _finished, timeout=0.01) is None
    assert view.waiter_count() == 0


async def test_every_waiter_of_an_id_is_woken() -> None:
    view = ResultsView(max_entries=10)
    waiters = [asyncio.create_task(view.wait_until("r1", _finished, timeout=30)) for _ in range(3)]
    await asyncio.sleep(0)

    view.apply(RESULTS, key("r1"), result("r1"))

    entries = await asyncio.wait_for(asyncio.gather(*waiters), timeout=5)
    assert [e.status if e else None for e in entries] == ["completed"] * 3


# -- the consumer's live/replay distinction ------------------------------------------------


def _record(topic: str, offset: int, value: bytes, request_id: str) -> ConsumerRecord:
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key(request_id),
        value=value,
        checksum=None,
        serialized_key_size=len(request_id),
        serialized_value_size=len(value),
        headers=(),
    )


def _latency_count() -> float:
    return REGISTRY.get_sample_value("kmidi_result_readable_latency_seconds_count") or 0.0


def test_latency_is_observed_only_for_results_first_seen_live() -> None:
    view = ResultsView(max_entries=10)
    consumer = ResultsConsumer(view, connection=KafkaConnection(bootstrap_servers="unused:9092"))
    consumer._targets = {TopicPartition(RESULTS, 0): 2}  # offsets 0 and 1 are replay
    before = _latency_count()

    consumer._handle(_record(RESULTS, 0, result("old"), "old"))
    consumer._handle(_record(RESULTS, 1, result("old2"), "old2"))
    assert _latency_count() == before, "a replayed result is not a latency sample"

    consumer._handle(_record(RESULTS, 2, result("new"), "new"))
    assert _latency_count() == before + 1
    consumer._handle(_record(RESULTS, 3, result("new", completed_after=5), "new"))
    assert _latency_count() == before + 1, "a duplicate is not a second sample"


def test_payload_bytes_follow_updates_evictions_and_deletes() -> None:
    view = ResultsView(max_entries=2)
    view.apply(PLANS, key("a"), plan("a"))
    view.apply(RESULTS, key("a"), result("a"))
    view.apply(RESULTS, key("b"), result("b"))
    entries = [view.peek("a"), view.peek("b")]
    assert view.payload_bytes == sum(e.payload_bytes for e in entries if e is not None)
    assert view.payload_bytes > 2 * len(MIDI)

    view.apply(RESULTS, key("b"), None)  # tombstone
    view.apply(INTENTS, key("c"), intent("c"))
    view.apply(INTENTS, key("d"), intent("d"))  # evicts "a"

    assert view.payload_bytes == 0
