"""What every stage does with a message: count it, log it, and handle what goes wrong."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from service_common.logging import bound_request_id
from stream_processors import domain, metrics
from stream_processors.deadletter import STAGE_ERROR, send_dead_letter
from stream_processors.outcomes import publish_failure
from stream_processors.parsing import PoisonMessageError
from stream_processors.publishing import Publisher
from stream_processors.records import InputRecord

log = logging.getLogger(__name__)

INVALID_EVENT = "invalid_event"

T = TypeVar("T")


async def run_stage(
    stage: str,
    failure_code: str | None,
    record: InputRecord,
    publisher: Publisher,
    process: Callable[[], Awaitable[None]],
) -> None:
    """Count and time one message of ``stage``; an unexpected error is contained, not raised."""
    metrics.STAGE_EVENTS_IN.labels(stage).inc()
    started = time.perf_counter()
    try:
        await process()
    except Exception as exc:  # contained: dead-lettered, never dropped
        await contain_failure(record, publisher, exc, stage=stage, failure_code=failure_code)
    finally:
        metrics.STAGE_DURATION.labels(stage).observe(time.perf_counter() - started)


def log_received(what: str, record: InputRecord, *, stage: str) -> None:
    """The first line a stage logs for a readable event: what it is and where it came from."""
    log.info(
        what,
        extra={
            "stage": stage,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
        },
    )


async def compose_step(
    record: InputRecord,
    publisher: Publisher,
    step: Callable[[], T],
    *,
    stage: str,
    doing: str,
    request_id: str,
    submitted_at: datetime | None,
    failure_code: str,
    failure_message: str,
) -> T | None:
    """``step()`` (``doing`` names it in the log), or None once its failure is answered.

    A refused technical wish gets a failed result (the user's error); any other error is
    the stage's: the message is dead-lettered and answered with ``failure_code``.
    """
    try:
        return step()
    except domain.TechnicalWishError as wish:
        await refuse_wish(
            record, publisher, wish, stage=stage, request_id=request_id, submitted_at=submitted_at
        )
    except Exception as exc:  # a crash in the domain code: poison for this stage
        log.exception("%s failed", doing)
        await dead_letter_and_fail(
            record,
            publisher,
            stage=stage,
            reason=STAGE_ERROR,
            error=repr(exc),
            request_id=request_id,
            failure_code=failure_code,
            failure_message=failure_message,
            submitted_at=submitted_at,
        )
    return None


async def refuse_wish(
    record: InputRecord,
    publisher: Publisher,
    wish: domain.TechnicalWishError,
    *,
    stage: str,
    request_id: str,
    submitted_at: datetime | None,
) -> None:
    """A wish the composer cannot honour is the user's error: a failed result, no dead letter."""
    metrics.STAGE_ERRORS.labels(stage, wish.code).inc()
    log.info("technical wish refused: %s", wish.message, extra={"code": wish.code})
    await publish_failure(
        publisher,
        record,
        request_id=request_id,
        code=wish.code,
        message=wish.message,
        stage=stage,
        submitted_at=submitted_at,
    )


async def dead_letter_and_fail(
    record: InputRecord,
    publisher: Publisher,
    *,
    stage: str,
    reason: str,
    error: str,
    request_id: str | None,
    failure_code: str | None,
    failure_message: str = "",
    submitted_at: datetime | None = None,
) -> None:
    """Dead-letter the message; with a failure code and a request ID also write a result.

    The ``failed`` result keeps the request's status from staying pending forever; the
    dead letter keeps the bytes for inspection and replay.
    """
    metrics.STAGE_ERRORS.labels(stage, reason).inc()
    await send_dead_letter(
        publisher, record, stage=stage, reason=reason, error=error, request_id=request_id
    )
    if failure_code is not None and request_id is not None:
        await publish_failure(
            publisher,
            record,
            request_id=request_id,
            code=failure_code,
            message=failure_message,
            stage=stage,
            submitted_at=submitted_at,
        )


async def reject_poison(
    record: InputRecord,
    publisher: Publisher,
    poison: PoisonMessageError,
    *,
    stage: str,
    answer_with_result: bool,
) -> None:
    """A message this stage cannot read: dead letter, and a failed result when asked."""
    with bound_request_id(poison.request_id):
        await dead_letter_and_fail(
            record,
            publisher,
            stage=stage,
            reason=poison.reason,
            error=poison.error,
            request_id=poison.request_id,
            failure_code=INVALID_EVENT if answer_with_result else None,
            failure_message=f"{poison.reason}: {poison.error}",
        )


async def contain_failure(
    record: InputRecord,
    publisher: Publisher,
    exc: Exception,
    *,
    stage: str,
    failure_code: str | None,
) -> None:
    """Last resort for an error no stage code expected (a bug, a record the broker refused).

    The message is dead-lettered, and answered with a ``failed`` result when
    ``failure_code`` is given and a request ID is readable, instead of letting the agent
    crash: faust would ack the message on the way out and nothing would be left of it.
    """
    request_id = record.header_request_id
    with bound_request_id(request_id):
        log.exception(
            "%s stage failed on %s[%d]@%d",
            stage,
            record.topic,
            record.partition,
            record.offset,
            exc_info=exc,
        )
        await dead_letter_and_fail(
            record,
            publisher,
            stage=stage,
            reason=STAGE_ERROR,
            error=repr(exc),
            request_id=request_id,
            failure_code=failure_code,
            failure_message="the request could not be processed; it was kept for inspection",
        )
