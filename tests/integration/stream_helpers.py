"""Helpers for tests that drive a real worker through real Kafka topics."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.structs import ConsumerRecord  # type: ignore[import-untyped]

from schemas.topics import INTENTS, INTERROGATIONS, PLANS, RESULTS
from tests.integration.conftest import ConsumerFactory
from tests.integration.worker_process import WorkerProcess

WAIT = 90.0
"""Bound on waiting for the worker's output: only so that a broken worker does not hang."""

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

SLOW_SEEK_MODULE = "tests.integration.slow_seek_worker"
SLOW_SEEK_ENV = {"KMIDI_TEST_SLOW_SEEK_SECONDS": "1.0"}
"""``WorkerProcess`` entry module and environment for a slow committed-offset lookup:
every (re)assignment then meets the seek race that ``stream_processors.driver`` fixes."""


def new_request_id(label: str) -> str:
    return f"t-{label}-{uuid.uuid4().hex[:12]}"


def intent_event(request_id: str, text: str = "I am feeling grief", **intent: Any) -> bytes:
    body: dict[str, Any] = {
        "schema": "kmidi.intent.v1",
        "request_id": request_id,
        "intent": {"emotional_intent": text, **intent},
    }
    return json.dumps(body).encode()


def headers_for(request_id: str) -> list[tuple[str, bytes]]:
    return [
        ("x-request-id", request_id.encode()),
        ("traceparent", TRACEPARENT.encode()),
        ("content-type", b"application/json"),
    ]


def value_of(record: ConsumerRecord) -> dict[str, Any]:
    loaded = json.loads(record.value)
    assert isinstance(loaded, dict)
    return loaded


def header_dict(record: ConsumerRecord) -> dict[str, str]:
    return {name: (value or b"").decode() for name, value in record.headers or ()}


async def watch(consumer_factory: ConsumerFactory, *topics: str) -> AIOKafkaConsumer:
    """A consumer of ``topics`` from their beginning; tests filter by their request IDs."""
    return await consumer_factory(*topics, fetch_max_wait_ms=50)


async def collect(
    consumer: AIOKafkaConsumer,
    *,
    keep: Callable[[ConsumerRecord], bool],
    until: Callable[[list[ConsumerRecord]], bool],
    timeout: float = WAIT,
) -> list[ConsumerRecord]:
    """Records matching ``keep`` until ``until(records)`` holds."""
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout
    while not until(records):
        if time.monotonic() > deadline:
            summary = [(r.topic, r.key, r.value[:120]) for r in records[-10:]]
            raise AssertionError(f"gave up after {timeout:g} s; last records: {summary}")
        batch = await consumer.getmany(timeout_ms=500)
        for partition_records in batch.values():
            records.extend(r for r in partition_records if keep(r))
    return records


async def say_turn(
    producer: AIOKafkaProducer,
    watcher: AIOKafkaConsumer,
    session: str,
    message: str,
    turn: int,
) -> dict[str, Any]:
    """Write one conversation turn and return the worker's reply to it."""
    rid = new_request_id(f"turn{turn}")
    value = json.dumps(
        {
            "schema": "kmidi.interrogation.v1",
            "request_id": rid,
            "session_id": session,
            "message": message,
        }
    ).encode()
    await producer.send_and_wait(
        INTERROGATIONS, value, key=session.encode(), headers=headers_for(rid)
    )
    records = await collect(
        watcher,
        keep=lambda r: r.key == session.encode() and value_of(r)["request_id"] == rid,
        until=bool,
    )
    reply = value_of(records[0])
    assert header_dict(records[0])["x-request-id"] == rid
    assert reply["session_id"] == session
    return reply


class IntentBatch:
    """Intents written to ``kmidi.intents.v1`` and the plans and results read back for them.

    ``wait_completed`` fails with where the missing intents were and what ``worker``'s
    group had committed there, so a loss can be told from a slow worker.
    """

    def __init__(
        self,
        producer: AIOKafkaProducer,
        watcher: AIOKafkaConsumer,
        admin: AIOKafkaAdminClient,
        worker: WorkerProcess,
    ) -> None:
        self.producer = producer
        self.watcher = watcher  # reads kmidi.plans.v1 and kmidi.results.v1
        self.admin = admin
        self.worker = worker
        self.placed: dict[bytes, tuple[int, int]] = {}
        """Request ID → (partition, offset) of its intent."""
        self.records: list[ConsumerRecord] = []

    async def send(self, request_ids: list[str]) -> None:
        futures = [
            await self.producer.send(
                INTENTS, intent_event(rid), key=rid.encode(), headers=headers_for(rid)
            )
            for rid in request_ids
        ]
        for rid, meta in zip(request_ids, await asyncio.gather(*futures), strict=True):
            self.placed[rid.encode()] = (meta.partition, meta.offset)

    def completed(self) -> set[bytes]:
        return {
            r.key
            for r in self.records
            if r.topic == RESULTS and value_of(r)["status"] == "completed"
        }

    async def wait_completed(self, count: int, timeout: float = WAIT) -> None:
        """Read on until ``count`` of the batch have a completed result."""
        before = list(self.records)

        def enough(seen: list[ConsumerRecord]) -> bool:
            self.records[:] = before + seen  # kept for the diagnosis if collect() gives up
            return len(self.completed()) >= count

        try:
            await collect(
                self.watcher, keep=lambda r: r.key in self.placed, until=enough, timeout=timeout
            )
        except AssertionError as exc:
            raise AssertionError(await self._describe_loss()) from exc

    def assert_duplicates_identical(self) -> None:
        midi_by_id: dict[bytes, str] = {}
        for record in self.records:
            if record.topic == RESULTS:
                result = value_of(record)
                assert result["status"] == "completed", result
                first = midi_by_id.setdefault(record.key, result["midi_base64"])
                assert first == result["midi_base64"], "a duplicate result differs from the first"

    async def _describe_loss(self) -> str:
        missing = set(self.placed) - self.completed()
        plans = {r.key for r in self.records if r.topic == PLANS}
        committed = await self.admin.list_consumer_group_offsets(self.worker.app_id)
        lines = []
        for key in sorted(missing)[:20]:
            partition, offset = self.placed[key]
            group = {
                topic: committed.get(TopicPartition(topic, partition)) for topic in (INTENTS, PLANS)
            }
            lines.append(
                f"{key.decode()}: intents p{partition}@{offset}, plan written: {key in plans}, "
                f"committed: { {t: (o.offset if o else None) for t, o in group.items()} }"
            )
        lines.append(f"worker log: {self.worker.log_path}")
        return f"{len(missing)} intents have no result:\n" + "\n".join(lines)


async def commit_group_at_end(
    consumer_factory: ConsumerFactory, group_id: str, topics: list[str], partitions: int
) -> None:
    """Commit ``group_id`` at the end of ``topics``, so a new group skips older tests' data.

    A new group starts at the earliest offset (the worker's reset policy); on a broker with
    a long history its first minutes would go to other tests' messages.
    """
    consumer = await consumer_factory(group_id=group_id, enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for topic in topics for p in range(partitions)]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    await consumer.commit({tp: await consumer.position(tp) for tp in tps})
    await consumer.stop()
