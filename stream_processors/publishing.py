"""Publishing with broker acknowledgement, transient-error retries and fail-stop.

A record is published only when the broker acknowledged it; a transient failure is retried
with exponential back-off. When the retries run out the worker process stops on the spot
(``os._exit``): raising would let faust ack the input event on the way out and commit its
offset, losing the message. Without a commit the input is read again after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn

from aiokafka.errors import (  # type: ignore[import-untyped]
    KafkaError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    UnknownTopicOrPartitionError,
)
from pydantic import BaseModel
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from schemas.events import dump_event
from schemas.headers import CONTENT_TYPE, JSON_CONTENT_TYPE, TRACEPARENT
from service_common import telemetry
from service_common.kafka_headers import KafkaHeaders, build_headers
from service_common.tracing import child_traceparent
from stream_processors import metrics

log = logging.getLogger(__name__)

SendAndWait = Callable[[str, bytes | None, bytes, KafkaHeaders], Awaitable[object]]
"""Sends one record and returns once the broker acknowledged it (or raises)."""

EXIT_PUBLISH_FAILED = 75  # EX_TEMPFAIL: a supervisor should restart the worker


class PublishRejectedError(RuntimeError):
    """The broker refused this record for good (too large, …): retrying cannot help."""


def is_transient(exc: BaseException) -> bool:
    """Whether another attempt may succeed: broker/network trouble, not a bad record."""
    if isinstance(exc, MessageSizeTooLargeError | RecordTooLargeError):
        return False
    if isinstance(exc, UnknownTopicOrPartitionError):
        return True  # metadata not yet propagated after topic creation
    if isinstance(exc, KafkaError):
        return True
    return isinstance(exc, TimeoutError | ConnectionError | OSError)


def output_headers(request_id: str | None, parent_traceparent: str | None) -> KafkaHeaders:
    """x-request-id, a child traceparent of the input's, content-type."""
    traceparent = child_traceparent(parent_traceparent)
    if request_id is None:
        return [(TRACEPARENT, traceparent.encode()), (CONTENT_TYPE, JSON_CONTENT_TYPE.encode())]
    return build_headers(request_id, traceparent)


class Publisher:
    """Publishes records for one stage, counting them in ``kmidi_stage_events_out_total``."""

    def __init__(
        self,
        send_and_wait: SendAndWait,
        *,
        attempts: int,
        max_wait: float,
        on_exhausted: Callable[[BaseException], NoReturn] | None = None,
    ) -> None:
        self._send_and_wait = send_and_wait
        self._attempts = attempts
        self._max_wait = max_wait
        self._on_exhausted = on_exhausted or fail_stop

    async def publish_event(
        self,
        topic: str,
        key: str | bytes | None,
        event: BaseModel,
        headers: KafkaHeaders,
        *,
        stage: str,
    ) -> None:
        """Serialise a kmidi event and publish it (see ``publish``)."""
        await self.publish(topic, key, dump_event(event), headers, stage=stage)

    async def publish(
        self,
        topic: str,
        key: str | bytes | None,
        value: bytes,
        headers: KafkaHeaders,
        *,
        stage: str,
    ) -> None:
        """Publish and wait for the acknowledgement; retries, then fail-stops."""
        raw_key = key.encode() if isinstance(key, str) else key

        def before_sleep(state: RetryCallState) -> None:
            metrics.PUBLISH_RETRIES.labels(topic).inc()
            outcome = state.outcome
            log.warning(
                "publish to %s failed (attempt %d of %d), retrying: %r",
                topic,
                state.attempt_number,
                self._attempts,
                outcome.exception() if outcome else None,
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.1, max=self._max_wait),
            retry=retry_if_exception(is_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            with telemetry.publish_span(topic):
                headers = telemetry.with_current_traceparent(headers)
                async for attempt in retrying:
                    with attempt:
                        await self._send_and_wait(topic, raw_key, value, headers)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                raise PublishRejectedError(f"{topic} rejected the record: {exc!r}") from exc
            self._on_exhausted(exc)
        metrics.STAGE_EVENTS_OUT.labels(stage, topic).inc()


def fail_stop(exc: BaseException) -> NoReturn:
    """Stop the process now, without committing offsets (see the module docstring)."""
    log.critical(
        "publishing failed after all retries; stopping the worker without committing so "
        "the input is processed again after a restart: %r",
        exc,
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    os._exit(EXIT_PUBLISH_FAILED)
