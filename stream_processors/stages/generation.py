"""Generation stage: ``PlanReady`` → rendered MIDI → ``GenerationResult``.

Rendering is deterministic for a plan, so a replayed plan yields byte-identical MIDI and
the result, keyed by request ID, is an idempotent effect. A plan the renderer crashes on
is dead-lettered and answered with a ``failed`` result (``generation_failed``).

The interrogation stage renders the plans it makes itself (one hop fewer: no second
parse of the plan, no second faust event before the result) and marks them with the
``kmidi-rendered`` header; this stage skips those without parsing them. It renders every
other plan: one written by another system or replayed from the dead-letter topic, and one
whose rendering failed in the interrogation stage (published unmarked, so the failure is
dead-lettered here with the plan's own bytes, as before).
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from typing import Final

from schemas.events import Artifact, GenerationResult, PlanReady
from service_common.logging import bound_request_id
from stream_processors import domain, metrics
from stream_processors.artifacts import get_artifact_settings, get_artifact_store
from stream_processors.context import StageContext
from stream_processors.outcomes import publish_result
from stream_processors.parsing import PoisonMessageError, parse_event
from stream_processors.publishing import Publisher
from stream_processors.records import InputRecord
from stream_processors.stages.common import (
    compose_step,
    log_received,
    reject_poison,
    run_stage,
)

log = logging.getLogger(__name__)

STAGE: Final = "generation"
GENERATION_FAILED: Final = "generation_failed"
_NOT_PLAN_FIELDS: Final = frozenset({"seed_source"})
"""Keys the interrogation stage adds to the plan document for people, not the renderer."""
MIDI_MEDIA_TYPE: Final = "audio/midi"
RENDERED_HEADER: Final = "kmidi-rendered"
"""Header on a plan whose result the interrogation stage already published (value: the
stage's name). Any other plan is rendered here."""


def completed_result(event: PlanReady, piece: domain.RenderedPiece) -> GenerationResult:
    """The ``completed`` result of the plan ``event`` rendered as ``piece``, its MIDI in
    the artifact store and, when small enough (or the store failed), inline too."""
    artifact = store_midi(event.request_id, piece.midi)
    inline = artifact is None or len(piece.midi) <= get_artifact_settings().inline_midi_max_bytes
    return GenerationResult(
        request_id=event.request_id,
        status="completed",
        midi_base64=base64.b64encode(piece.midi).decode() if inline else None,
        affect=event.affect,
        plan=event.plan,
        seed=event.seed,
        duration_seconds=piece.duration_seconds,
        submitted_at=event.submitted_at,
        completed_at=datetime.now(UTC),
        output_format=event.output_format,
        audio_format=event.chosen_audio_format,
        artifacts=[artifact] if artifact is not None else [],
    )


def store_midi(request_id: str, midi: bytes) -> Artifact | None:
    """The MIDI file in the artifact store, or None when the store refuses it (logged):
    the MIDI then travels inline only, so the result is not lost to a full disk."""
    try:
        # Synchronous: a MIDI file is tens of kB, a write of it microseconds.
        return get_artifact_store().put(
            request_id, "midi", midi, media_type=MIDI_MEDIA_TYPE, suffix=".mid"
        )
    except (OSError, ValueError) as exc:  # ValueError: an ID such as ".." is no file name
        log.error("the artifact store refused the MIDI file: %r", exc)
        metrics.STAGE_ERRORS.labels(STAGE, "artifact_store").inc()
        return None


async def process_plan(record: InputRecord, publisher: Publisher) -> None:
    """Handle one message of ``kmidi.plans.v1``; never raises for a bad message."""
    if record.headers.get(RENDERED_HEADER):
        metrics.STAGE_SKIPPED.labels(STAGE, "rendered_upstream").inc()
        return
    ctx = StageContext(STAGE, record, publisher, GENERATION_FAILED)
    await run_stage(ctx, lambda: _process(ctx))


async def _process(ctx: StageContext) -> None:
    try:
        event = parse_event(ctx.record, PlanReady)
    except PoisonMessageError as poison:
        await reject_poison(ctx, poison, answer_with_result=True)
        return

    ctx.identify(event.request_id, event.submitted_at)
    with bound_request_id(event.request_id):
        log_received(ctx, "plan received")
        piece = await compose_step(
            ctx,
            lambda: domain.render_midi(
                domain.Plan.from_dict(
                    {k: v for k, v in event.plan.items() if k not in _NOT_PLAN_FIELDS}
                )
            ),
            doing="rendering",
            failure_message="the piece could not be rendered; the plan was kept for inspection",
        )
        if piece is None:
            return

        await publish_result(ctx, completed_result(event, piece))
