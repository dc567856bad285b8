"""Interrogation stage: ``IntentSubmitted`` → affect + musical plan → ``PlanReady``.

It also renders the plan and publishes the ``GenerationResult`` itself, together with the
plan (marked ``kmidi-rendered``, which the generation stage skips): one hop fewer per
request. The plan still goes to ``kmidi.plans.v1`` for the results view and downstream
consumers. Rendering is deterministic, so the bytes are those the generation stage would
have produced.

A technical wish kmidi cannot honour is the requester's error, not a poison message: it
becomes a ``failed`` result and is not dead-lettered. A message that cannot be read is
dead-lettered, and also answered with a ``failed`` result when its request ID is readable.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Final

from schemas.events import IntentSubmitted, PlanReady
from schemas.topics import PLANS
from service_common.logging import bound_request_id
from stream_processors import domain
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
from stream_processors.stages.generation import RENDERED_HEADER, completed_result
from stream_processors.stages.generation import STAGE as GENERATION_STAGE

log = logging.getLogger(__name__)

STAGE: Final = "interrogation"
INTERROGATION_FAILED: Final = "interrogation_failed"
SEED_FROM_EVENT: Final = "event"
SEED_FROM_REQUEST_ID: Final = "request_id"


def derive_seed(request_id: str) -> int:
    """A seed fixed by the request ID alone, so a replay composes the same piece."""
    digest = hashlib.sha256(f"kmidi-seed:{request_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


def choose_seed(event: IntentSubmitted) -> tuple[int, str]:
    """The event's seed, else one derived from its request ID; and which it was."""
    if event.seed is not None:
        return event.seed, SEED_FROM_EVENT
    return derive_seed(event.request_id), SEED_FROM_REQUEST_ID


async def process_intent(record: InputRecord, publisher: Publisher) -> None:
    """Handle one message of ``kmidi.intents.v1``; never raises for a bad message."""
    ctx = StageContext(STAGE, record, publisher, INTERROGATION_FAILED)
    await run_stage(ctx, lambda: _process(ctx))


async def _process(ctx: StageContext) -> None:
    # A minimal event from another system has no submitted_at: the time it was written
    # to Kafka is the truest value, and is the same on every replay of the record.
    produced_at = ctx.record.produced_at
    defaults = {"submitted_at": produced_at} if produced_at else None
    try:
        event = parse_event(ctx.record, IntentSubmitted, defaults=defaults)
    except PoisonMessageError as poison:
        await reject_poison(ctx, poison, answer_with_result=True)
        return

    ctx.identify(event.request_id, event.submitted_at)
    with bound_request_id(event.request_id):
        log_received(ctx, "intent received")
        seed, seed_source = choose_seed(event)

        def analyse_and_plan() -> tuple[domain.Affect, domain.Plan]:
            affect = domain.analyse_intent(event.intent)
            return affect, domain.build_plan(event.intent, affect, seed=seed)

        planned = await compose_step(
            ctx,
            analyse_and_plan,
            doing="planning",
            failure_message="the intent could not be analysed; it was kept for inspection",
        )
        if planned is None:
            return
        affect, plan = planned
        ready = _plan_ready(event, affect, plan, seed_source)
        rendered = await _publish(ctx, ready, plan)
        log.info(
            "plan published",
            extra={
                "stage": STAGE,
                "emotion": affect.primary,
                "seed": seed,
                "seed_source": seed_source,
                "rendered": rendered,
            },
        )


def _plan_ready(
    event: IntentSubmitted, affect: domain.Affect, plan: domain.Plan, seed_source: str
) -> PlanReady:
    """The ``PlanReady`` event of ``plan``; its document also says where the seed came from."""
    plan_dict = plan.to_dict()
    plan_dict["seed_source"] = seed_source
    return PlanReady(
        request_id=event.request_id,
        intent=event.intent,
        seed=plan.seed,
        affect=affect.to_dict(),
        plan=plan_dict,
        submitted_at=event.submitted_at,
        planned_at=datetime.now(UTC),
        output_format=event.output_format,
        audio_format=event.audio_format,
    )


async def _publish(ctx: StageContext, ready: PlanReady, plan: domain.Plan) -> bool:
    """Publish the plan and, when it renders here, its result; whether it rendered."""
    piece = _render(plan)
    plan_headers = ctx.output_headers()
    publish_plan = ctx.publisher.publish_event
    if piece is None:
        # The generation stage renders an unmarked plan, and dead-letters it with the
        # plan's own bytes if the renderer fails there too.
        await publish_plan(PLANS, ready.request_id, ready, plan_headers, stage=STAGE)
        return False
    plan_headers.append((RENDERED_HEADER, STAGE.encode()))
    # Logged before publishing, as the generation stage's "plan received" was: a reader
    # who sees the result can rely on the line being there.
    log.info(
        "piece rendered",
        extra={"stage": GENERATION_STAGE, "duration_seconds": piece.duration_seconds},
    )
    # Both acknowledged before the intent's offset can be committed; in parallel, so the
    # request waits for one round trip to the broker, not two.
    await asyncio.gather(
        publish_plan(PLANS, ready.request_id, ready, plan_headers, stage=STAGE),
        publish_result(replace(ctx, stage=GENERATION_STAGE), completed_result(ready, piece)),
    )
    return True


def _render(plan: domain.Plan) -> domain.RenderedPiece | None:
    """The plan's piece, or None when the renderer fails (the generation stage retries)."""
    try:
        return domain.render_midi(plan)
    except Exception as exc:  # the generation stage dead-letters it with the plan's bytes
        log.warning("rendering failed; leaving the plan to the generation stage: %r", exc)
        return None
