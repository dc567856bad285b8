"""Deleting a request: a tombstone on the compacted results topic, written on demand.

Every results replica applies the tombstone and drops the request; compaction then removes
its results from Kafka. The client is started on the first DELETE, so a results service
that is never asked to delete never opens a producer.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

from schemas.kafka_connection import KafkaConnection
from schemas.topics import RESULTS
from service_common import telemetry
from service_common.kafka_headers import KafkaHeaders

log = logging.getLogger(__name__)

_REQUEST_TIMEOUT_MS = 10_000
"""A DELETE answers 503 after this rather than hanging on an unreachable broker."""


class TombstoneWriter:
    """Writes ``key=request_id, value=null`` to ``kmidi.results.v1`` with acks=all."""

    def __init__(self, connection: KafkaConnection) -> None:
        self.connection = connection
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    **self.connection.aiokafka_kwargs(),
                    client_id="kmidi-results-deleter",
                    acks="all",
                    request_timeout_ms=_REQUEST_TIMEOUT_MS,
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def write(self, request_id: str, headers: KafkaHeaders) -> None:
        """Publish the tombstone; raises when the broker did not acknowledge it."""
        producer = await self._started()
        with telemetry.publish_span(RESULTS):
            headers = telemetry.with_current_traceparent(headers)
            await producer.send_and_wait(RESULTS, None, key=request_id.encode(), headers=headers)

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
