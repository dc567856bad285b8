"""Generation stage: ``PlanReady`` → rendered MIDI → ``GenerationResult``.

Rendering is deterministic for a plan, so a replayed plan yields byte-identical MIDI and
the result, keyed by request ID, is an idempotent effect. A plan the renderer crashes on
is dead-lettered and answered with a ``failed`` result (``generation_failed``).
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from typing import Final

from schemas.events import GenerationResult, PlanReady
from service_common.logging import bound_request_id
from stream_processors import domain
from stream_processors.deadletter import STAGE_ERROR
from stream_processors.outcomes import publish_result
from stream_processors.parsing import PoisonMessageError, parse_event
from stream_processors.publishing import Publisher
from stream_processors.records import InputRecord
from stream_processors.stages.common import (
    dead_letter_and_fail,
    refuse_wish,
    reject_poison,
    run_stage,
)

log = logging.getLogger(__name__)

STAGE: Final = "generation"
GENERATION_FAILED: Final = "generation_failed"
_NOT_PLAN_FIELDS: Final = frozenset({"seed_source"})
"""Keys the interrogation stage adds to the plan document for people, not the renderer."""


async def process_plan(record: InputRecord, publisher: Publisher) -> None:
    """Handle one message of ``kmidi.plans.v1``; never raises for a bad message."""
    await run_stage(
        STAGE, GENERATION_FAILED, record, publisher, lambda: _process(record, publisher)
    )


async def _process(record: InputRecord, publisher: Publisher) -> None:
    try:
        event = parse_event(record, PlanReady)
    except PoisonMessageError as poison:
        await reject_poison(record, publisher, poison, stage=STAGE, answer_with_result=True)
        return

    with bound_request_id(event.request_id):
        log.info(
            "plan received",
            extra={
                "stage": STAGE,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
            },
        )
        try:
            plan = domain.Plan.from_dict(
                {k: v for k, v in event.plan.items() if k not in _NOT_PLAN_FIELDS}
            )
            piece = domain.render_midi(plan)
        except domain.TechnicalWishError as wish:
            await refuse_wish(
                record,
                publisher,
                wish,
                stage=STAGE,
                request_id=event.request_id,
                submitted_at=event.submitted_at,
            )
            return
        except Exception as exc:  # the renderer crashed on this plan: poison, keep it
            log.exception("rendering failed")
            await dead_letter_and_fail(
                record,
                publisher,
                stage=STAGE,
                reason=STAGE_ERROR,
                error=repr(exc),
                request_id=event.request_id,
                failure_code=GENERATION_FAILED,
                failure_message="the piece could not be rendered; the plan was kept for inspection",
                submitted_at=event.submitted_at,
            )
            return

        result = GenerationResult(
            request_id=event.request_id,
            status="completed",
            midi_base64=base64.b64encode(piece.midi).decode(),
            affect=event.affect,
            plan=event.plan,
            seed=event.seed,
            duration_seconds=piece.duration_seconds,
            submitted_at=event.submitted_at,
            completed_at=datetime.now(UTC),
        )
        await publish_result(publisher, result, record, stage=STAGE)
