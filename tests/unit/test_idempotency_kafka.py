"""The Kafka Idempotency-Key store's state machine: a pure function of the log.

Every ingress replica applies the same records of ``kmidi.idempotency.v1`` in the same
order, so these tests are what makes them agree on who holds a key.
"""

from __future__ import annotations

import asyncio
import base64
from types import SimpleNamespace
from typing import Any, Literal, cast

import pytest

from producer_api.core.config import Settings
from producer_api.idempotency_kafka import ClaimTable, KafkaIdempotencyStore, replay
from producer_api.kafka import EventPublisher
from schemas.events import IdempotencyRecord
from schemas.topics import IDEMPOTENCY, TOPICS
from service_common.http import ApiError

DAY = 24 * 3600.0
A_BODY = "a" * 64
B_BODY = "b" * 64
KEY = "key-1:my-retry"
Kind = Literal["claimed", "completed", "released"]


def record(
    kind: Kind, request_id: str, *, body: str = A_BODY, at: float = 1000.0, response: bytes = b""
) -> tuple[str, IdempotencyRecord]:
    return KEY, IdempotencyRecord(
        kind=kind,
        request_id=request_id,
        fingerprint=body,
        created=at,
        response=base64.b64encode(response).decode() if kind == "completed" else None,
    )


def holder_of(*records: tuple[str, IdempotencyRecord]) -> tuple[str, bytes | None] | None:
    holders = replay(records, retention_seconds=DAY)
    holder = holders.get(KEY)
    return None if holder is None else (holder.request_id, holder.response)


def test_the_first_claim_in_the_log_wins_and_a_later_one_does_not() -> None:
    assert holder_of(record("claimed", "r1"), record("claimed", "r2", at=999.0)) == ("r1", None)
    assert holder_of(record("claimed", "r2", at=999.0), record("claimed", "r1")) == ("r2", None)


def test_the_winner_is_told_apart_by_its_offset_not_its_request_id() -> None:
    # Two requests with the same X-Request-ID: only the first record's offset holds the key.
    holders = replay([record("claimed", "r1"), record("claimed", "r1")], retention_seconds=DAY)
    assert holders[KEY].offset == 0


def test_completion_by_the_holder_is_kept_and_a_losers_is_ignored() -> None:
    assert holder_of(
        record("claimed", "r1"),
        record("claimed", "r2"),
        record("completed", "r2", response=b"loser"),
        record("completed", "r1", response=b"{202}"),
    ) == ("r1", b"{202}")


def test_a_release_frees_the_key_for_the_next_claim() -> None:
    assert holder_of(
        record("claimed", "r1"),
        record("released", "r1"),
        record("claimed", "r2", body=B_BODY),
    ) == ("r2", None)


def test_a_release_after_completion_or_by_another_request_changes_nothing() -> None:
    completed = (record("claimed", "r1"), record("completed", "r1", response=b"ok"))
    assert holder_of(*completed, record("released", "r1")) == ("r1", b"ok")
    assert holder_of(record("claimed", "r1"), record("released", "r2")) == ("r1", None)


def test_a_claim_older_than_the_retention_is_taken_over() -> None:
    first = (record("claimed", "r1", at=0.0), record("completed", "r1", response=b"old"))
    assert holder_of(*first, record("claimed", "r2", at=DAY - 1)) == ("r1", b"old")
    assert holder_of(*first, record("claimed", "r2", at=DAY)) == ("r2", None)
    # The old holder's late records no longer touch the new claim.
    assert holder_of(*first, record("claimed", "r2", at=DAY), record("released", "r1")) == (
        "r2",
        None,
    )


def test_every_replica_reaches_the_same_holders_from_the_same_log() -> None:
    log = [
        record("claimed", "r1"),
        record("claimed", "r2"),
        record("released", "r2"),
        record("completed", "r1", response=b"x"),
    ]
    one, two = ClaimTable(retention_seconds=DAY), ClaimTable(retention_seconds=DAY)
    for offset, (key, value) in enumerate(log):
        one.apply(key, value, offset)
    for offset, (key, value) in enumerate(log):
        two.apply(key, value, offset)
    assert one.holders == two.holders == replay(log, retention_seconds=DAY)


def test_pruning_forgets_only_long_expired_holders() -> None:
    table = ClaimTable(retention_seconds=DAY)
    table.apply("old", record("claimed", "r1", at=0.0)[1], 0)
    table.apply("new", record("claimed", "r2", at=3 * DAY)[1], 1)
    table.prune()
    assert set(table.holders) == {"new"}


def test_the_topic_is_not_compacted_and_keeps_a_week() -> None:
    (spec,) = [spec for spec in TOPICS if spec.name == IDEMPOTENCY]
    assert spec.configs["cleanup.policy"] == "delete"
    assert int(spec.configs["retention.ms"]) == 7 * 24 * 3600 * 1000
    assert spec.partitions == 6


# -- the store around the table: claim reads its own record back --------------------------


class FakeLog:
    """A one-partition log standing in for the producer; ``consume`` applies it."""

    def __init__(self) -> None:
        self.records: list[tuple[str, IdempotencyRecord]] = []
        self.store: KafkaIdempotencyStore | None = None
        self.consuming = True

    async def publish(self, topic: str, key: str, value: bytes, headers: Any) -> Any:
        assert topic == IDEMPOTENCY
        offset = len(self.records)
        self.records.append((key, IdempotencyRecord.model_validate_json(value)))
        if self.consuming:
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self.consume()))
        return SimpleNamespace(partition=0, offset=offset)

    async def consume(self) -> None:
        assert self.store is not None
        start = self.store._applied.get(0, 0)
        for offset in range(start, len(self.records)):
            key, record = self.records[offset]
            self.store.table.apply(key, record, offset)
        self.store._applied[0] = len(self.records)
        async with self.store._progress:
            self.store._progress.notify_all()


def store_on(log: FakeLog, wait: float = 5.0) -> KafkaIdempotencyStore:
    settings = Settings(idempotency_store="kafka", publish_timeout_seconds=wait)
    store = KafkaIdempotencyStore(settings, cast(EventPublisher, log))
    log.store = store
    return store


async def test_claim_is_fresh_only_for_the_record_that_took_the_key() -> None:
    log = FakeLog()
    store = store_on(log)
    first, second = await asyncio.gather(
        store.claim(KEY, A_BODY, "r1"), store.claim(KEY, A_BODY, "r1")
    )
    assert (first.fresh, second.fresh) == (True, False), "same request ID, one winner"
    await store.complete(KEY, "r1", b'{"request_id": "r1"}')
    retry = await store.claim(KEY, A_BODY, "r2")
    assert (retry.fresh, retry.request_id, retry.response) == (False, "r1", b'{"request_id": "r1"}')
    assert [record.kind for _, record in log.records] == [
        "claimed",
        "claimed",
        "completed",
        "claimed",
    ]
    assert log.records[2][1].fingerprint == A_BODY, "the completion names the claimed body"


async def test_a_release_frees_the_key_for_a_retry() -> None:
    log = FakeLog()
    store = store_on(log)
    assert (await store.claim(KEY, A_BODY, "r1")).fresh
    await store.release(KEY, "r1")
    again = await store.claim(KEY, B_BODY, "r2")
    assert (again.fresh, again.request_id, again.fingerprint) == (True, "r2", B_BODY)


async def test_a_claim_not_read_back_in_time_is_503_and_released() -> None:
    log = FakeLog()
    log.consuming = False  # the consumer is stuck: the claim is never applied
    store = store_on(log, wait=0.1)
    with pytest.raises(ApiError) as raised:
        await store.claim(KEY, A_BODY, "r1")
    assert (raised.value.status_code, raised.value.code) == (503, "idempotency_unavailable")
    assert [(record.kind, record.request_id) for _, record in log.records] == [
        ("claimed", "r1"),
        ("released", "r1"),
    ]
