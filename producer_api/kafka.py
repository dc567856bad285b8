"""The ingress's Kafka producer: one per process, idempotent, acks=all, connected in the background.

Start-up never blocks on a dead broker for longer than ``KAFKA_CONNECT_TIMEOUT_SECONDS``:
the app serves (``/ready`` answers 503, ``POST /v1/generate`` answers 503) while a task
keeps connecting with capped exponential back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    stop_never,
    wait_exponential,
)

from producer_api.core.config import Settings
from producer_api.metrics import EVENTS_PUBLISHED, PUBLISH_DURATION
from service_common.kafka_failure import connection_failure_reason
from service_common.kafka_headers import KafkaHeaders
from service_common.tasks import cancel_and_wait

log = logging.getLogger(__name__)

_METADATA_TIMEOUT = 2.0
_RECONNECT_MAX_WAIT = 5.0
_STOP_UNCONNECTED_TIMEOUT = 2.0


class PublishError(RuntimeError):
    """The broker did not acknowledge the event (down, timed out, or not connected yet)."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


class EventPublisher:
    """Owns the process's ``AIOKafkaProducer``; ``publish`` waits for acks=all within a bound."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: Any = None
        self._connect_task: asyncio.Task[None] | None = None
        self._metadata_ok_at: float | None = None
        self._metadata_lock = asyncio.Lock()
        self.last_error: str | None = None
        """Why the last connection attempt failed; None once connected."""

    @property
    def started(self) -> bool:
        return self._producer is not None

    def _new_producer(self) -> Any:
        settings = self._settings
        return AIOKafkaProducer(
            **settings.kafka.aiokafka_kwargs(),
            client_id=settings.kafka_client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=settings.kafka_linger_ms,
            # A request outliving the HTTP wait would only deliver after the client got 503.
            request_timeout_ms=int(max(1.0, settings.publish_timeout_seconds) * 1000),
            compression_type=None,
        )

    async def _connect_once(self) -> None:
        producer = self._new_producer()
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can drop shutdown's cancel.
            async with asyncio.timeout(self._settings.publish_timeout_seconds):
                await producer.start()
        except BaseException as exc:
            # Bounded: stopping a producer that never reached the broker can itself wait on
            # the connection, and this also runs when shutdown cancels the reconnect loop.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_STOP_UNCONNECTED_TIMEOUT):
                    await producer.stop()
            if isinstance(exc, Exception):
                self.last_error = await connection_failure_reason(self._settings.kafka, exc)
                log.warning("kafka producer could not connect", extra={"error": self.last_error})
            raise
        self._producer = producer
        self.last_error = None
        self._metadata_ok_at = time.monotonic()
        log.info("kafka producer connected", extra={"bootstrap": self._bootstrap})

    @property
    def _bootstrap(self) -> str:
        return self._settings.kafka.bootstrap_servers

    async def start(self) -> None:
        """Connect within the start-up budget, else keep trying in a background task."""
        try:
            await self._connect(stop_after=self._settings.kafka_connect_timeout_seconds)
        except (KafkaError, OSError, TimeoutError):
            log.warning(
                "kafka not reachable at start-up; serving as not ready and retrying",
                extra={"bootstrap": self._bootstrap, "error": self.last_error},
            )
            self._connect_task = asyncio.create_task(
                self._connect(stop_after=None), name="kafka-producer-connect"
            )

    async def _connect(self, *, stop_after: float | None) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_delay(stop_after) if stop_after is not None else stop_never,
            wait=wait_exponential(multiplier=0.2, max=_RECONNECT_MAX_WAIT),
            retry=retry_if_exception_type((KafkaError, OSError, TimeoutError)),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._connect_once()

    async def stop(self) -> None:
        """Flush what is in flight and close (bounded by the publish timeout)."""
        connect_task, self._connect_task = self._connect_task, None
        if connect_task is not None:
            await cancel_and_wait(connect_task, timeout=_STOP_UNCONNECTED_TIMEOUT + 1)
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(
                    producer.stop(), timeout=self._settings.publish_timeout_seconds + 1
                )
            except (TimeoutError, KafkaError) as exc:
                log.warning("kafka producer did not stop cleanly", extra={"error": repr(exc)})

    async def broker_reachable(self) -> bool:
        """Whether the broker answered a metadata request within ``READY_MAX_AGE_SECONDS``."""
        producer = self._producer
        if producer is None:
            return False
        max_age = self._settings.ready_max_age_seconds
        async with self._metadata_lock:
            # Probes from several sources share one metadata request per max_age window.
            if (
                self._metadata_ok_at is not None
                and time.monotonic() - self._metadata_ok_at < max_age
            ):
                return True
            try:
                await asyncio.wait_for(producer.client.fetch_all_metadata(), _METADATA_TIMEOUT)
            except (KafkaError, OSError, TimeoutError) as exc:
                log.info("kafka metadata request failed", extra={"error": repr(exc)})
                return False
            self._metadata_ok_at = time.monotonic()
            return True

    async def publish(self, topic: str, key: str, value: bytes, headers: KafkaHeaders) -> Any:
        """Send and wait for acks=all within ``PUBLISH_TIMEOUT_SECONDS``, else ``PublishError``;
        the record's metadata (``partition``, ``offset``)."""
        producer = self._producer
        if producer is None:
            EVENTS_PUBLISHED.labels(topic, "unavailable").inc()
            raise PublishError("unavailable", "not connected to Kafka yet")
        start = time.perf_counter()
        try:
            metadata = await asyncio.wait_for(
                producer.send_and_wait(topic, value=value, key=key.encode(), headers=headers),
                timeout=self._settings.publish_timeout_seconds,
            )
        except TimeoutError as exc:
            EVENTS_PUBLISHED.labels(topic, "timeout").inc()
            seconds = self._settings.publish_timeout_seconds
            raise PublishError(
                "timeout", f"no acknowledgement from Kafka within {seconds:g} s"
            ) from exc
        except KafkaError as exc:
            EVENTS_PUBLISHED.labels(topic, "error").inc()
            raise PublishError("error", f"Kafka refused the event: {type(exc).__name__}") from exc
        PUBLISH_DURATION.labels(topic).observe(time.perf_counter() - start)
        EVENTS_PUBLISHED.labels(topic, "ok").inc()
        self._metadata_ok_at = time.monotonic()
        return metadata
