"""``IDEMPOTENCY_STORE=kafka``: Idempotency-Key claims shared by every ingress replica.

Every claim, completion and release is a record on ``kmidi.idempotency.v1``, keyed by the
scoped key, so the default partitioner puts every record of one key on one partition and
the log orders them. Every ingress process replays that topic from the beginning with a
group-less consumer (like the results service) and applies the records, in log order, to
:class:`ClaimTable`: a deterministic state machine, so every replica agrees on who holds
a key. A claim produces its ``claimed`` record (acks=all, the ingress's idempotent
producer), waits until the local consumer has applied its partition past that record's
offset, then reads the holder: the request publishes when the holder is its own record.

Not compacted: compaction keeps a key's *last* record, which may be a losing claim's.
Records outlive the claims (7 days against 24 h), and a claim whose holder is older than
the retention takes the key; the age is measured between the two records' own
timestamps, so every replica decides alike.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from pydantic import ValidationError

from producer_api.core.config import Settings
from producer_api.idempotency import Claim
from producer_api.kafka import EventPublisher, PublishError
from schemas.events import IdempotencyRecord, dump_event
from schemas.topics import IDEMPOTENCY
from service_common.http import ApiError
from service_common.kafka_headers import build_headers
from service_common.tasks import cancel_and_wait, consume_with_reconnects
from service_common.tracing import new_traceparent

log = logging.getLogger(__name__)

_STOP_TIMEOUT_SECONDS = 5.0
_NO_FINGERPRINT = "0" * 64
_PRUNE_EVERY_RECORDS = 10_000
_PRUNE_SKEW_SECONDS = 3600.0
"""Holders are forgotten this long after they expired by the log's own clock, so that a
claim stamped by a host whose clock lags cannot find a key free on one replica (pruned)
and held on another."""


@dataclass(frozen=True, slots=True)
class Holder:
    """The claim that holds a key: its record's offset tells one claim from another."""

    request_id: str
    fingerprint: str
    created: float
    offset: int
    response: bytes | None = None


class ClaimTable:
    """The claims a log of :class:`IdempotencyRecord` establishes, applied in log order."""

    def __init__(self, *, retention_seconds: float) -> None:
        self.retention = retention_seconds
        self.holders: dict[str, Holder] = {}
        self._newest = 0.0
        self._applied = 0

    def __len__(self) -> int:
        return len(self.holders)

    def apply(self, key: str, record: IdempotencyRecord, offset: int) -> None:
        """One record: a claim takes a key no live claim holds; a completion gives the
        holder its 202; a release frees a holder that has none."""
        holder = self.holders.get(key)
        if record.kind == "claimed":
            if holder is None or record.created - holder.created >= self.retention:
                self.holders[key] = Holder(
                    record.request_id, record.fingerprint, record.created, offset
                )
            self._newest = max(self._newest, record.created)
        elif holder is None or holder.request_id != record.request_id:
            pass  # a loser's or an expired claim's completion or release: no effect
        elif record.kind == "completed":
            if holder.response is None and record.response is not None:
                response = base64.b64decode(record.response)
                self.holders[key] = Holder(
                    holder.request_id, holder.fingerprint, holder.created, holder.offset, response
                )
        elif holder.response is None:  # released
            del self.holders[key]
        self._applied += 1
        if self._applied % _PRUNE_EVERY_RECORDS == 0:
            self.prune()

    def prune(self) -> None:
        oldest = self._newest - self.retention - _PRUNE_SKEW_SECONDS
        for key in [key for key, holder in self.holders.items() if holder.created < oldest]:
            del self.holders[key]


def replay(
    records: Iterable[tuple[str, IdempotencyRecord]], *, retention_seconds: float
) -> dict[str, Holder]:
    """The holders after ``records`` (key, record) in log order; offsets count from 0."""
    table = ClaimTable(retention_seconds=retention_seconds)
    for offset, (key, record) in enumerate(records):
        table.apply(key, record, offset)
    return table.holders


def _unavailable(message: str) -> ApiError:
    return ApiError(
        503,
        "idempotency_unavailable",
        f"{message}; retry shortly, or without the Idempotency-Key header",
        headers={"Retry-After": "2"},
    )


class KafkaIdempotencyStore:
    """Claims through ``kmidi.idempotency.v1``; the same interface as ``IdempotencyStore``."""

    def __init__(
        self, settings: Settings, publisher: EventPublisher, *, topic: str = IDEMPOTENCY
    ) -> None:
        self._settings = settings
        self._publisher = publisher
        self._topic = topic
        self._wait_seconds = settings.publish_timeout_seconds
        self.table = ClaimTable(retention_seconds=settings.idempotency_retention_seconds)
        self._applied: dict[int, int] = {}
        """Partition → the offset after the last record applied (the consumed position)."""
        self._progress = asyncio.Condition()
        self._targets: dict[int, int] | None = None
        self.caught_up = asyncio.Event()
        self.connected = False
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="idempotency-consumer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task, timeout=_STOP_TIMEOUT_SECONDS)

    def close(self) -> None:
        """For the lifespan's symmetry with the SQLite store; ``stop`` ends the consumer."""

    @property
    def ready(self) -> bool:
        """Consuming, and caught up with the end offsets seen at start-up."""
        return self.connected and self.caught_up.is_set()

    # -- the store's interface -------------------------------------------------------------

    async def claim(self, key: str, fingerprint: str, request_id: str) -> Claim:
        """Take ``key`` for ``request_id`` unless a live claim holds it; the holder."""
        record = IdempotencyRecord(
            kind="claimed", request_id=request_id, fingerprint=fingerprint, created=time.time()
        )
        metadata = await self._send(key, record)
        try:
            await self._wait_applied(metadata.partition, metadata.offset)
        except TimeoutError:
            await self._release(key, request_id, fingerprint)
            raise _unavailable("this ingress has not read its Idempotency-Key claim back") from None
        holder = self.table.holders.get(key)
        if holder is None:  # only if the record was unreadable: never by a valid claim
            raise _unavailable("the Idempotency-Key claim could not be read back")
        fresh = holder.offset == metadata.offset
        return Claim(holder.request_id, holder.fingerprint, holder.response, fresh=fresh)

    async def complete(self, key: str, request_id: str, response: bytes) -> None:
        """Record the 202 for the retries; acknowledged before the 202 is answered, so a
        retry's claim, later in the partition, finds it."""
        record = IdempotencyRecord(
            kind="completed",
            request_id=request_id,
            fingerprint=self._held_fingerprint(key, request_id),
            created=time.time(),
            response=base64.b64encode(response).decode(),
        )
        try:
            await self._send(key, record)
        except ApiError:
            # The intent is published: answer its 202. Retries get 409 until the claim expires.
            log.warning("Idempotency-Key completion not recorded", extra={"key": key})

    async def release(self, key: str, request_id: str) -> None:
        """Free a claim whose request failed, so a retry can publish (best effort)."""
        await self._release(key, request_id, self._held_fingerprint(key, request_id))

    def _held_fingerprint(self, key: str, request_id: str) -> str:
        """The body fingerprint of ``request_id``'s claim while it holds ``key``."""
        holder = self.table.holders.get(key)
        if holder is None or holder.request_id != request_id:
            return _NO_FINGERPRINT
        return holder.fingerprint

    async def _release(self, key: str, request_id: str, fingerprint: str) -> None:
        record = IdempotencyRecord(
            kind="released", request_id=request_id, fingerprint=fingerprint, created=time.time()
        )
        try:
            await self._send(key, record)
        except ApiError:
            log.warning("Idempotency-Key release not recorded", extra={"key": key})

    async def _send(self, key: str, record: IdempotencyRecord) -> Any:
        headers = build_headers(record.request_id, new_traceparent())
        try:
            return await self._publisher.publish(self._topic, key, dump_event(record), headers)
        except PublishError as exc:
            raise _unavailable(f"the Idempotency-Key claim could not be recorded: {exc}") from exc

    async def _wait_applied(self, partition: int, offset: int) -> None:
        async with asyncio.timeout(self._wait_seconds), self._progress:
            await self._progress.wait_for(lambda: self._applied.get(partition, 0) > offset)

    # -- the consumer ----------------------------------------------------------------------

    async def _run(self) -> None:
        await consume_with_reconnects(
            "idempotency consumer",
            self._new_consumer,
            assign=self._assign,
            consume=self._consume,
            on_down=self._mark_down,
            start_timeout=self._settings.publish_timeout_seconds,
        )

    def _mark_down(self) -> None:
        self.connected = False

    def _new_consumer(self) -> Any:
        settings = self._settings
        return AIOKafkaConsumer(
            **settings.kafka.aiokafka_kwargs(),
            client_id=f"{settings.kafka_client_id}-idempotency-{socket.gethostname()}-"
            f"{os.getpid()}",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # Kafka answers a waiting fetch as soon as a record arrives: a claim waits for
            # its own record, not for this timer.
            fetch_max_wait_ms=1000,
            request_timeout_ms=int(max(5.0, settings.publish_timeout_seconds) * 1000),
        )

    async def _assign(self, consumer: Any) -> None:
        partitions: set[int] | None = None
        while not partitions:  # the topics job may still be creating it
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(self._topic)
            if not partitions:
                log.info("idempotency topic not found yet", extra={"topic": self._topic})
                await asyncio.sleep(1.0)
        tps = [TopicPartition(self._topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        fresh = [tp for tp in tps if tp.partition not in self._applied]
        for tp in tps:
            if tp.partition in self._applied:  # after a reconnect: resume, never re-apply
                consumer.seek(tp, self._applied[tp.partition])
        if fresh:
            await consumer.seek_to_beginning(*fresh)
        if self._targets is None:
            ends = await consumer.end_offsets(tps)
            self._targets = {tp.partition: end for tp, end in ends.items()}
            log.info(
                "idempotency claims catching up",
                extra={"records_to_replay": sum(self._targets.values())},
            )
        await self._check_caught_up(consumer)
        self.connected = True

    async def _consume(self, consumer: Any) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
            for tp, records in batches.items():
                for record in records:
                    self._apply(record)
                self._applied[tp.partition] = await consumer.position(tp)
            if batches:
                async with self._progress:
                    self._progress.notify_all()
            if not self.caught_up.is_set():
                await self._check_caught_up(consumer)

    def _apply(self, record: Any) -> None:
        try:
            value = IdempotencyRecord.model_validate_json(record.value or b"")
            key = record.key.decode()
        except (ValidationError, AttributeError, UnicodeDecodeError):
            log.warning(
                "unreadable idempotency record skipped",
                extra={"partition": record.partition, "offset": record.offset},
            )
            return
        self.table.apply(key, value, record.offset)

    async def _check_caught_up(self, consumer: Any) -> None:
        assert self._targets is not None
        for partition, end in self._targets.items():
            position = await consumer.position(TopicPartition(self._topic, partition))
            if position < end:
                return
            self._applied[partition] = max(self._applied.get(partition, 0), position)
        self.caught_up.set()
        log.info("idempotency claims caught up", extra={"keys": len(self.table)})


__all__ = ["ClaimTable", "Holder", "KafkaIdempotencyStore", "replay"]
