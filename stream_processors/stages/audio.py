"""Audio stage: a completed result that asked for audio → the audio file → the result again.

It reads ``kmidi.audio-requests.v1`` in its own consumer group and its own process
(``stream_processors.audio_app``), so seconds of FluidSynth never hold up a MIDI result:
a request is written only once its MIDI result is acknowledged on ``kmidi.results.v1``
(``stream_processors.outcomes``). For each result with ``audio_pending`` it renders the
MIDI with ``kmidi.audio`` (in a thread: it is seconds of CPU), puts the file in the
artifact store and publishes the same result under the same key to ``kmidi.results.v1``
with the audio artifact added, or with an ``artifact_errors`` entry when rendering failed.
The request stays ``completed`` either way: its MIDI is good. A record with nothing to do
(a tombstone, a result that awaits no audio: an operator's replay) is skipped.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import UTC, datetime
from typing import Final

from kmidi import audio
from schemas.events import Artifact, ArtifactError, GenerationResult
from schemas.topics import RESULTS
from service_common import telemetry
from service_common.logging import bound_request_id
from stream_processors import metrics
from stream_processors.artifacts import get_artifact_store
from stream_processors.context import StageContext
from stream_processors.deadletter import STAGE_ERROR
from stream_processors.outcomes import AUDIO_HEADER, result_headers
from stream_processors.parsing import PoisonMessageError, parse_event
from stream_processors.publishing import Publisher
from stream_processors.records import InputRecord
from stream_processors.stages.common import (
    dead_letter_and_fail,
    log_received,
    reject_poison,
    run_stage,
)

log = logging.getLogger(__name__)

STAGE: Final = "audio"
AUDIO_FAILED: Final = "audio_failed"
AUDIO_UNAVAILABLE: Final = "audio_unavailable"
"""fluidsynth or the soundfont is missing where the stage runs: an operator's fix."""


async def process_result(record: InputRecord, publisher: Publisher) -> None:
    """Handle one message of ``kmidi.audio-requests.v1``; never raises for a bad message."""
    if not record.value:  # a tombstone, written by hand: nothing to render
        metrics.STAGE_SKIPPED.labels(STAGE, "tombstone").inc()
        return
    if record.headers.get(AUDIO_HEADER) == "none":  # older records lack it: parsed below
        metrics.STAGE_SKIPPED.labels(STAGE, "no_audio_pending").inc()
        return
    ctx = StageContext(STAGE, record, publisher)
    await run_stage(ctx, lambda: _process(ctx))


async def _process(ctx: StageContext) -> None:
    try:
        event = parse_event(ctx.record, GenerationResult)
    except PoisonMessageError as poison:
        await reject_poison(ctx, poison, answer_with_result=False)
        return
    if not event.audio_pending:
        metrics.STAGE_SKIPPED.labels(STAGE, "no_audio_pending").inc()
        return
    ctx.identify(event.request_id, event.submitted_at)
    with bound_request_id(event.request_id):
        log_received(ctx, "result awaiting audio")
        update: dict[str, object] = {}
        try:
            artifact = await asyncio.to_thread(render_and_store, event)
            update["artifacts"] = [*event.artifacts, artifact]
        except Exception as exc:  # the MIDI stands; the audio's failure is reported with it
            update["artifact_errors"] = [*event.artifact_errors, _error_of(exc)]
            await _report_failure(ctx, exc)
        updated = event.model_copy(update={**update, "completed_at": datetime.now(UTC)})
        headers = result_headers(updated, ctx.traceparent)
        await ctx.publisher.publish_event(RESULTS, event.request_id, updated, headers, stage=STAGE)
        log.info("audio result published", extra={"stage": STAGE, "made": "artifacts" in update})


def render_and_store(event: GenerationResult) -> Artifact:
    """Render the result's MIDI as its requested audio format and keep the file."""
    fmt = event.chosen_audio_format or "ogg"
    with telemetry.span("render audio", attributes={"kmidi.audio_format": fmt}):
        rendered = audio.render(_midi_of(event), format=fmt)
    return get_artifact_store().put(
        event.request_id,
        "audio",
        rendered.data,
        media_type=rendered.media_type,
        suffix=audio.SUFFIXES[fmt],
    )


def _midi_of(event: GenerationResult) -> bytes:
    """The MIDI inline in the result, else from the artifact store."""
    if event.midi_base64:
        return base64.b64decode(event.midi_base64, validate=True)
    midi = event.artifact("midi")
    if midi is None:
        raise audio.AudioRenderError("the result carries no MIDI to render")
    return get_artifact_store().read(midi)


def _error_of(exc: Exception) -> ArtifactError:
    if isinstance(exc, audio.AudioToolMissingError):
        code, message = AUDIO_UNAVAILABLE, str(exc)
    elif isinstance(exc, audio.AudioRenderError):
        code, message = AUDIO_FAILED, str(exc)
    else:
        code, message = AUDIO_FAILED, "the audio could not be made; the result was kept"
    return ArtifactError(kind="audio", code=code, message=message[:2000], stage=STAGE)


async def _report_failure(ctx: StageContext, exc: Exception) -> None:
    """A missing tool is logged (an operator's fix); any other failure is dead-lettered."""
    if isinstance(exc, audio.AudioToolMissingError):
        metrics.STAGE_ERRORS.labels(STAGE, AUDIO_UNAVAILABLE).inc()
        log.error("audio unavailable: %s", exc)
        return
    log.exception("audio rendering failed", exc_info=exc)
    await dead_letter_and_fail(ctx, reason=STAGE_ERROR, error=repr(exc), failure_code=None)
