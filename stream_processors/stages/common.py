"""What every stage does with a message: count it, log it, and handle what goes wrong."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from service_common.logging import bound_request_id
from stream_processors import domain, metrics
from stream_processors.context import StageContext
from stream_processors.deadletter import STAGE_ERROR, send_dead_letter
from stream_processors.outcomes import publish_failure
from stream_processors.parsing import PoisonMessageError

log = logging.getLogger(__name__)

INVALID_EVENT = "invalid_event"

T = TypeVar("T")


async def run_stage(ctx: StageContext, process: Callable[[], Awaitable[None]]) -> None:
    """Count and time one message of the stage; an unexpected error is contained, not raised."""
    metrics.STAGE_EVENTS_IN.labels(ctx.stage).inc()
    started = time.perf_counter()
    try:
        await process()
    except Exception as exc:  # contained: dead-lettered, never dropped
        await contain_failure(ctx, exc)
    finally:
        metrics.STAGE_DURATION.labels(ctx.stage).observe(time.perf_counter() - started)


def log_received(ctx: StageContext, what: str) -> None:
    """The first line a stage logs for a readable event: what it is and where it came from."""
    record = ctx.record
    log.info(
        what,
        extra={
            "stage": ctx.stage,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
        },
    )


async def compose_step(
    ctx: StageContext, step: Callable[[], T], *, doing: str, failure_message: str
) -> T | None:
    """``step()`` (``doing`` names it in the log), or None once its failure is answered.

    A refused technical wish gets a failed result (the user's error); any other error is
    the stage's: the message is dead-lettered and answered with the stage's failure code.
    """
    try:
        return step()
    except domain.TechnicalWishError as wish:
        await refuse_wish(ctx, wish)
    except Exception as exc:  # a crash in the domain code: poison for this stage
        log.exception("%s failed", doing)
        await dead_letter_and_fail(
            ctx,
            reason=STAGE_ERROR,
            error=repr(exc),
            failure_code=ctx.failure_code,
            failure_message=failure_message,
        )
    return None


async def refuse_wish(ctx: StageContext, wish: domain.TechnicalWishError) -> None:
    """A wish the composer cannot honour is the user's error: a failed result, no dead letter."""
    metrics.STAGE_ERRORS.labels(ctx.stage, wish.code).inc()
    log.info("technical wish refused: %s", wish.message, extra={"code": wish.code})
    await publish_failure(ctx, code=wish.code, message=wish.message)


async def dead_letter_and_fail(
    ctx: StageContext,
    *,
    reason: str,
    error: str,
    failure_code: str | None,
    failure_message: str = "",
) -> None:
    """Dead-letter the message; with a failure code and a request ID also write a result.

    The ``failed`` result keeps the request's status from staying pending forever; the
    dead letter keeps the bytes for inspection and replay.
    """
    metrics.STAGE_ERRORS.labels(ctx.stage, reason).inc()
    await send_dead_letter(ctx, reason=reason, error=error)
    if failure_code is not None and ctx.request_id is not None:
        await publish_failure(ctx, code=failure_code, message=failure_message)


async def reject_poison(
    ctx: StageContext, poison: PoisonMessageError, *, answer_with_result: bool
) -> None:
    """A message this stage cannot read: dead letter, and a failed result when asked."""
    ctx.identify(poison.request_id)
    with bound_request_id(poison.request_id):
        await dead_letter_and_fail(
            ctx,
            reason=poison.reason,
            error=poison.error,
            failure_code=INVALID_EVENT if answer_with_result else None,
            failure_message=f"{poison.reason}: {poison.error}",
        )


async def contain_failure(ctx: StageContext, exc: Exception) -> None:
    """Last resort for an error no stage code expected (a bug, a record the broker refused).

    The message is dead-lettered, and answered with a ``failed`` result when the stage has
    a failure code and a request ID is readable, instead of letting the agent crash: faust
    would ack the message on the way out and nothing would be left of it.
    """
    record = ctx.record
    if ctx.request_id is None:
        ctx.identify(record.header_request_id)
    with bound_request_id(ctx.request_id):
        log.exception(
            "%s stage failed on %s[%d]@%d",
            ctx.stage,
            record.topic,
            record.partition,
            record.offset,
            exc_info=exc,
        )
        await dead_letter_and_fail(
            ctx,
            reason=STAGE_ERROR,
            error=repr(exc),
            failure_code=ctx.failure_code,
            failure_message="the request could not be processed; it was kept for inspection",
        )
