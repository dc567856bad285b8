"""Interrogation replies: one background consumer per process hands each reply to its waiter.

The consumer has no group and assigns itself every partition of the replies topic from
the end, so each process sees every reply and keeps only those it waits for (several
uvicorn workers each run one). Waiters register *before* the turn is published, and the
consumer's positions are resolved before it reports running, so no reply can slip past.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from pydantic import ValidationError

from producer_api.core.config import Settings
from producer_api.metrics import INTERROGATION_REPLIES, INTERROGATION_WAIT
from schemas.events import InterrogationReply
from schemas.topics import INTERROGATION_REPLIES as REPLIES_TOPIC
from service_common.tasks import cancel_and_wait, consume_with_reconnects

log = logging.getLogger(__name__)

_STOP_TIMEOUT = 5.0


class RequestInFlightError(RuntimeError):
    """Another request with the same ID is already waiting for its reply."""


_Waiting = tuple[str, str | None]
"""A waiter's request ID and the session it expects the reply for (None: any)."""


class ReplyWaiter:
    """Maps (request ID, session ID) to futures resolved by the replies consumer.

    A reply is handed over only when both match: with API keys each key's conversations
    have session IDs of their own (``routes.interrogate.key_session``), so a client that
    reuses another's request ID never receives that other's reply.
    """

    def __init__(self, settings: Settings, *, topic: str = REPLIES_TOPIC) -> None:
        self._settings = settings
        self._topic = topic
        self._pending: dict[_Waiting, asyncio.Future[InterrogationReply]] = {}
        self._task: asyncio.Task[None] | None = None
        self._running = asyncio.Event()

    @property
    def running(self) -> bool:
        """True once the consumer has its partitions and positions."""
        return self._running.is_set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run_forever(), name="interrogation-replies")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task, timeout=_STOP_TIMEOUT)
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()

    async def wait_until_running(self, timeout: float) -> bool:
        """Whether the consumer is running within ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._running.wait(), timeout)
        return self._running.is_set()

    def register(
        self, request_id: str, session_id: str | None = None
    ) -> asyncio.Future[InterrogationReply]:
        """A future for the reply to ``request_id`` in ``session_id``; call before
        publishing the turn."""
        if (request_id, session_id) in self._pending:
            raise RequestInFlightError(request_id)
        future: asyncio.Future[InterrogationReply] = asyncio.get_running_loop().create_future()
        self._pending[request_id, session_id] = future
        return future

    async def wait(
        self,
        request_id: str,
        future: asyncio.Future[InterrogationReply],
        timeout: float,
        session_id: str | None = None,
    ) -> InterrogationReply:
        """The reply, or ``TimeoutError`` after ``timeout`` seconds; always unregisters."""
        start = time.perf_counter()
        try:
            reply = await asyncio.wait_for(future, timeout)
        finally:
            self.discard(request_id, session_id)
        INTERROGATION_WAIT.observe(time.perf_counter() - start)
        return reply

    def discard(self, request_id: str, session_id: str | None = None) -> None:
        future = self._pending.pop((request_id, session_id), None)
        if future is not None and not future.done():
            future.cancel()

    def _dispatch(self, value: bytes | None) -> None:
        try:
            reply = InterrogationReply.model_validate_json(value or b"")
        except ValidationError:
            INTERROGATION_REPLIES.labels("invalid").inc()
            log.warning("unreadable interrogation reply skipped")
            return
        future = self._pending.get((reply.request_id, reply.session_id))
        if future is None:
            future = self._pending.get((reply.request_id, None))
        if future is None or future.done():
            INTERROGATION_REPLIES.labels("unmatched").inc()
            return
        INTERROGATION_REPLIES.labels("matched").inc()
        future.set_result(reply)

    def _new_consumer(self) -> Any:
        return AIOKafkaConsumer(
            **self._settings.kafka.aiokafka_kwargs(),
            client_id=f"{self._settings.kafka_client_id}-replies-{uuid.uuid4().hex[:8]}",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            # Replies are awaited by a person; the default 500 ms would add to every turn
            # only on brokers that do not wake waiting fetches, so keep it short anyway.
            # Kafka answers a waiting fetch as soon as a reply arrives: this only bounds
            # how often an idle ingress asks.
            fetch_max_wait_ms=1000,
            request_timeout_ms=int(max(5.0, self._settings.publish_timeout_seconds) * 1000),
        )

    async def _run_forever(self) -> None:
        await consume_with_reconnects(
            "interrogation replies consumer",
            self._new_consumer,
            assign=self._assign,
            consume=self._consume,
            on_down=self._running.clear,
            start_timeout=self._settings.publish_timeout_seconds,
        )

    async def _assign(self, consumer: Any) -> None:
        partitions: set[int] | None = None
        # The topic may be created after the ingress starts (topics job racing the pods).
        while not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(self._topic)
            if not partitions:
                log.info("replies topic not found yet", extra={"topic": self._topic})
                await asyncio.sleep(1.0)
        tps = [TopicPartition(self._topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            # Resolving positions now pins "latest" to this moment, before any waiter exists.
            await consumer.position(tp)
        self._running.set()
        log.info("interrogation replies consumer running", extra={"partitions": len(tps)})

    async def _consume(self, consumer: Any) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for messages in batches.values():
                for message in messages:
                    self._dispatch(message.value)
