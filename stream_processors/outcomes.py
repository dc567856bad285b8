"""Publishing ``GenerationResult`` events: the one place results and their metrics come from.

A result that asks for audio is published twice: to ``kmidi.results.v1`` (the contract)
and then, once that is acknowledged, to ``kmidi.audio-requests.v1``, the audio stage's
input. The audio stage so reads only the results it has work for, never every result; and
its own updated result always lands on the results topic after the one it updates.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from schemas.events import ErrorInfo, GenerationResult
from schemas.topics import AUDIO_REQUESTS, RESULTS
from service_common.kafka_headers import KafkaHeaders
from stream_processors import metrics
from stream_processors.context import StageContext
from stream_processors.publishing import output_headers

log = logging.getLogger(__name__)

AUDIO_HEADER = "kmidi-audio"
"""Header on every result kmidi writes: ``pending`` when the audio stage has work to do
for it, else ``none``; downstream consumers can tell without parsing the result."""


def result_headers(result: GenerationResult, parent_traceparent: str | None) -> KafkaHeaders:
    """The headers of a result record: ``output_headers`` and ``AUDIO_HEADER``."""
    headers = output_headers(result.request_id, parent_traceparent)
    headers.append((AUDIO_HEADER, b"pending" if result.audio_pending else b"none"))
    return headers


async def publish_result(ctx: StageContext, result: GenerationResult) -> None:
    """Publish ``result`` keyed by its request ID (and, when it awaits audio, the audio
    stage's request after it); count it and its end-to-end latency."""
    headers = result_headers(result, ctx.traceparent)
    await ctx.publisher.publish_event(RESULTS, result.request_id, result, headers, stage=ctx.stage)
    if result.audio_pending:
        await ctx.publisher.publish_event(
            AUDIO_REQUESTS, result.request_id, result, headers, stage=ctx.stage
        )
    metrics.RESULTS.labels(result.status).inc()
    if result.submitted_at is not None:
        submitted = result.submitted_at
        if submitted.tzinfo is None:
            submitted = submitted.replace(tzinfo=UTC)
        latency = (datetime.now(UTC) - submitted).total_seconds()
        if latency >= 0:
            metrics.END_TO_END_LATENCY.observe(latency)
    log.info(
        "result %s published",
        result.status,
        extra={
            "stage": ctx.stage,
            "status": result.status,
            "error_code": result.error.code if result.error else None,
        },
    )


async def publish_failure(ctx: StageContext, *, code: str, message: str) -> None:
    """A ``failed`` result for ``ctx``'s request, so its status does not stay pending."""
    if ctx.request_id is None:
        raise ValueError("a failed result needs the request ID")
    result = GenerationResult(
        request_id=ctx.request_id,
        status="failed",
        error=ErrorInfo(code=code, message=message[:2000], stage=ctx.stage),
        submitted_at=ctx.submitted_at,
    )
    await publish_result(ctx, result)
