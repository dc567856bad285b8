"""The Kafka side: one group-less consumer that replays the pipeline topics into the view.

Every replica reads every partition from the beginning and commits nothing, so any
replica can answer for any request and a restart rebuilds the view from Kafka alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import (  # type: ignore[import-untyped]
    AIOKafkaConsumer,
    ConsumerRecord,
    TopicPartition,
)

from schemas.kafka_connection import KafkaConnection
from schemas.topics import INTENTS, PLANS, RESULTS
from service_common import telemetry
from service_common.kafka_failure import connection_failure_reason
from service_common.logging import bound_request_id
from service_common.tasks import cancel_and_wait, is_stop_request, stop_quietly
from stream_processors.results_service import metrics
from stream_processors.results_service.pacing import FetchPacer
from stream_processors.results_service.store import Applied, Outcome, ResultsView

log = logging.getLogger(__name__)

VIEW_TOPICS: tuple[str, ...] = (INTENTS, PLANS, RESULTS)
_FETCH_MAX_WAIT_MS = 1000
"""Kafka answers a waiting fetch as soon as data arrives (fetch.min.bytes = 1), so this
bounds only how often an idle consumer asks, not how soon a long-poll is answered."""
_MAX_PARTITION_FETCH_BYTES = 5 * 1024 * 1024
"""Above the results topic's max.message.bytes (4 MiB), so one big result never stalls."""
_PROBE_TIMEOUT_SECONDS = 10.0
_FIRST_RETRY_SECONDS = 0.5
_STOP_TIMEOUT_SECONDS = 5.0


class TopicsMissingError(RuntimeError):
    """A pipeline topic does not exist (yet); the view cannot be complete without it."""


class _PartitionsChangedError(Exception):
    """Partitions were added to a topic; the consumer is reassigned to read them too."""


class ResultsConsumer:
    """Keeps a :class:`ResultsView` up to date; knows whether it has caught up."""

    def __init__(
        self,
        view: ResultsView,
        *,
        connection: KafkaConnection,
        topics: Sequence[str] = VIEW_TOPICS,
        retry_max_seconds: float = 10.0,
        probe_interval_seconds: float = 5.0,
        busy_pause_seconds: float = 0.0,
    ) -> None:
        self.view = view
        self.connection = connection
        self.topics = tuple(topics)
        self.retry_max_seconds = retry_max_seconds
        self.probe_interval_seconds = probe_interval_seconds
        self.pacer = FetchPacer(busy_pause_seconds)
        self.caught_up = asyncio.Event()
        self.connected = False
        self.last_error: str | None = None
        """Why the last connection failed; None once connected."""
        self.started_at = time.monotonic()
        self._targets: dict[TopicPartition, int] | None = None
        """End offsets at start-up: a record below them is replay, at or above is live."""
        self._pending: set[TopicPartition] = set()
        self._positions: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Run the consumer in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="results-consumer")

    async def stop(self) -> None:
        """Stop consuming and close the connection."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task, timeout=_STOP_TIMEOUT_SECONDS)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def ready(self) -> bool:
        """Whether this replica can answer for every request written before it started."""
        return self.running and self.connected and self.caught_up.is_set()

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume forever, rebuilding the client (and resuming where it was) on failure."""
        delay = _FIRST_RETRY_SECONDS
        while True:
            consumer = self._new_consumer()
            try:
                await consumer.start()
                await self._assign(consumer)
                self._set_connected(True)
                delay = _FIRST_RETRY_SECONDS
                await self._consume(consumer)
            except _PartitionsChangedError:
                log.info("partitions added to a view topic; reassigning")
                continue
            except (Exception, asyncio.CancelledError) as exc:
                if is_stop_request(exc):
                    raise
                self._set_connected(False)
                metrics.CONSUMER_RECONNECTS.inc()
                self.last_error = await connection_failure_reason(self.connection, exc)
                log.warning(
                    "results consumer failed; reconnecting",
                    extra={"error": self.last_error, "retry_in_seconds": delay},
                )
            finally:
                self._set_connected(False)
                await stop_quietly(consumer, timeout=_STOP_TIMEOUT_SECONDS)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max_seconds)

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            **self.connection.aiokafka_kwargs(),
            client_id=f"kmidi-results-{socket.gethostname()}-{os.getpid()}",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # Aborted transactional writes must never show as results.
            isolation_level="read_committed",
            fetch_max_wait_ms=_FETCH_MAX_WAIT_MS,
            max_partition_fetch_bytes=_MAX_PARTITION_FETCH_BYTES,
        )

    async def _partitions(self, consumer: AIOKafkaConsumer) -> set[TopicPartition]:
        # consumer.topics() fetches this but keeps only the names; the client's own
        # cluster view holds assigned topics alone, so a new partition would go unseen.
        cluster = await consumer._client.fetch_all_metadata()
        partitions: set[TopicPartition] = set()
        missing = []
        for topic in self.topics:
            numbers = cluster.partitions_for_topic(topic)
            if not numbers:
                missing.append(topic)
                continue
            partitions.update(TopicPartition(topic, number) for number in numbers)
        if missing:
            raise TopicsMissingError(f"topics not found: {', '.join(missing)}")
        return partitions

    async def _assign(self, consumer: AIOKafkaConsumer) -> None:
        partitions = await self._partitions(consumer)
        consumer.assign(sorted(partitions))
        fresh = [tp for tp in partitions if tp not in self._positions]
        for tp in partitions - set(fresh):
            consumer.seek(tp, self._positions[tp])
        if fresh:
            await consumer.seek_to_beginning(*fresh)
        if self._targets is None:
            self._targets = await consumer.end_offsets(sorted(partitions))
            self._pending = set(partitions)
            log.info(
                "results view catching up",
                extra={
                    "records_to_replay": sum(self._targets.values()),
                    "partitions": len(partitions),
                },
            )
        elif not self.caught_up.is_set():
            # Partitions first seen after start-up still count towards catch-up.
            new = [tp for tp in fresh if tp not in self._targets]
            if new:
                self._targets.update(await consumer.end_offsets(new))
                self._pending.update(new)
        await self._check_caught_up(consumer)

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        assigned = consumer.assignment()
        next_probe = time.monotonic() + self.probe_interval_seconds
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
            for records in batches.values():
                for record in records:
                    self._handle(record)
            pause = self.pacer.pause_after(sum(map(len, batches.values())))
            if pause and self.caught_up.is_set():  # a replay at start-up runs flat out
                await asyncio.sleep(pause)
            metrics.VIEW_ENTRIES.set(len(self.view))
            metrics.VIEW_PAYLOAD_BYTES.set(self.view.payload_bytes)
            if not self.caught_up.is_set():
                await self._check_caught_up(consumer)
            if time.monotonic() >= next_probe:
                await self._probe(consumer, assigned)
                next_probe = time.monotonic() + self.probe_interval_seconds

    def _handle(self, record: ConsumerRecord) -> None:
        tp = TopicPartition(record.topic, record.partition)
        self._positions[tp] = record.offset + 1
        live = self._targets is None or record.offset >= self._targets.get(tp, 0)
        if not live:  # replayed while rebuilding the view: old traces get no new spans
            self._apply(record, live=False)
            return
        with telemetry.consume_span(
            record.topic, record.partition, record.offset, record.headers, consumer_group=None
        ):
            self._apply(record, live=True)

    def _apply(self, record: ConsumerRecord, *, live: bool) -> None:
        applied = self.view.apply(record.topic, record.key, record.value, record.headers)
        metrics.VIEW_EVENTS.labels(topic=record.topic, outcome=applied.outcome.value).inc()
        if applied.evicted:
            metrics.VIEW_EVICTIONS.inc(applied.evicted)
        if applied.outcome is Outcome.INVALID:
            with bound_request_id(applied.request_id):
                log.warning(
                    "skipped an unreadable record",
                    extra={
                        "topic": record.topic,
                        "partition": record.partition,
                        "offset": record.offset,
                        "reason": applied.reason,
                    },
                )
        elif live and applied.first_result:
            self._observe_result(applied)

    def _observe_result(self, applied: Applied) -> None:
        # Only results first seen live: a replayed result's "latency" would be the age
        # of the request, and a restart would flood the histogram with it.
        latency = None
        if applied.submitted_at is not None:
            submitted = applied.submitted_at
            if submitted.tzinfo is None:
                submitted = submitted.replace(tzinfo=UTC)
            latency = (datetime.now(UTC) - submitted).total_seconds()
            if latency >= 0:
                metrics.END_TO_END_LATENCY.observe(latency)
        with bound_request_id(applied.request_id):
            log.info(
                "result materialised",
                extra={"status": applied.status, "end_to_end_seconds": latency},
            )

    async def _check_caught_up(self, consumer: AIOKafkaConsumer) -> None:
        assert self._targets is not None
        for tp in list(self._pending):
            # The consumed position, not the last record's offset: it steps over
            # transaction markers and compacted-away offsets at the end of a log.
            if await consumer.position(tp) >= self._targets[tp]:
                self._pending.discard(tp)
        if not self._pending and not self.caught_up.is_set():
            self.caught_up.set()
            metrics.CAUGHT_UP.set(1)
            log.info(
                "results view caught up",
                extra={
                    "entries": len(self.view),
                    "seconds": round(time.monotonic() - self.started_at, 3),
                },
            )

    async def _probe(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        """Ask the broker for end offsets: proves it answers, and gives the lag."""
        async with asyncio.timeout(_PROBE_TIMEOUT_SECONDS):
            ends = await consumer.end_offsets(sorted(assigned))
        for tp, end in ends.items():
            position = await consumer.position(tp)
            self._positions[tp] = position
            metrics.CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(
                max(end - position, 0)
            )
        self._set_connected(True)
        if await self._partitions(consumer) != assigned:
            raise _PartitionsChangedError

    def _set_connected(self, connected: bool) -> None:
        self.connected = connected
        if connected:
            self.last_error = None
        metrics.BROKER_CONNECTED.set(1 if connected else 0)
