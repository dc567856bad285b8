"""Dead letters: a message no stage could process, kept whole with stage and reason."""

from __future__ import annotations

import base64
import logging
from typing import Final

from schemas.events import DeadLetter
from schemas.topics import DEADLETTER
from stream_processors import metrics
from stream_processors.context import StageContext
from stream_processors.records import InputRecord

log = logging.getLogger(__name__)

MAX_ORIGINAL_BYTES: Final = 512 * 1024
"""Largest original value kept whole. A bigger one (only ``too_large`` messages) is cut to
this many bytes, and ``error`` says so: base64 of a 1 MiB value would exceed the broker's
default 1 MiB record limit and could never be published."""

NOT_JSON: Final = "not_json"
SCHEMA_INVALID: Final = "schema_invalid"
TOO_LARGE: Final = "too_large"
STAGE_ERROR: Final = "stage_error"


def build_dead_letter(
    record: InputRecord, *, stage: str, reason: str, error: str, request_id: str | None
) -> DeadLetter:
    """The DeadLetter event for ``record``; the original bytes are base64-encoded."""
    value = record.value
    if len(value) > MAX_ORIGINAL_BYTES:
        error = (
            f"{error} [original value cut to its first {MAX_ORIGINAL_BYTES} of {len(value)} bytes]"
        )
        value = value[:MAX_ORIGINAL_BYTES]
    return DeadLetter(
        request_id=request_id,
        stage=stage,
        reason=reason,
        error=error[:4000],
        original_topic=record.topic,
        original_partition=record.partition,
        original_offset=record.offset,
        original_key_base64=(
            base64.b64encode(record.key).decode() if record.key is not None else None
        ),
        original_value_base64=base64.b64encode(value).decode(),
        original_headers=record.headers,
    )


async def send_dead_letter(ctx: StageContext, *, reason: str, error: str) -> None:
    """Publish the dead letter of ``ctx``'s record to ``kmidi.deadletter.v1``, keyed by the
    original key."""
    record = ctx.record
    letter = build_dead_letter(
        record, stage=ctx.stage, reason=reason, error=error, request_id=ctx.request_id
    )
    log.warning(
        "dead-lettering %s[%d]@%d: %s: %s",
        record.topic,
        record.partition,
        record.offset,
        reason,
        letter.error[:500],
        extra={"stage": ctx.stage, "reason": reason},
    )
    await ctx.publisher.publish_event(
        DEADLETTER, record.key, letter, ctx.output_headers(), stage=ctx.stage
    )
    metrics.DEADLETTERED.labels(ctx.stage, reason).inc()
