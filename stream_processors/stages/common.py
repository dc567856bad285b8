"""What every stage does with a message it cannot read."""

from __future__ import annotations

from service_common.logging import bound_request_id
from stream_processors import metrics
from stream_processors.deadletter import send_dead_letter
from stream_processors.outcomes import publish_failure
from stream_processors.parsing import PoisonMessageError
from stream_processors.publishing import Publisher
from stream_processors.records import InputRecord

INVALID_EVENT = "invalid_event"


async def reject_poison(
    record: InputRecord,
    publisher: Publisher,
    poison: PoisonMessageError,
    *,
    stage: str,
    answer_with_result: bool,
) -> None:
    """Dead-letter the message; with a readable request ID also write a ``failed`` result.

    The failed result keeps the request's status from staying pending forever; the dead
    letter keeps the bytes for inspection and replay.
    """
    with bound_request_id(poison.request_id):
        metrics.STAGE_ERRORS.labels(stage, poison.reason).inc()
        await send_dead_letter(
            publisher, record, stage=stage, reason=poison.reason, error=poison.error,
            request_id=poison.request_id,
        )
        if answer_with_result and poison.request_id is not None:
            await publish_failure(
                publisher, record, request_id=poison.request_id, code=INVALID_EVENT,
                message=f"{poison.reason}: {poison.error}", stage=stage,
            )
