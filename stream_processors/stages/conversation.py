"""Conversation stage: ``InterrogationTurn`` + stored session → ``InterrogationReply``.

Session state lives in a changelog-backed faust table keyed by session ID, so a restarted
worker rebuilds it from Kafka. Each entry also keeps the last turn's request ID and reply:
a turn read again after a crash (at-least-once) gets the same reply again instead of
advancing the dialogue twice.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any, Final

from schemas.events import InterrogationReply, InterrogationTurn
from schemas.topics import INTERROGATION_REPLIES
from service_common.logging import bound_request_id
from stream_processors import domain
from stream_processors.context import StageContext
from stream_processors.deadletter import STAGE_ERROR
from stream_processors.parsing import PoisonMessageError, parse_event
from stream_processors.publishing import Publisher
from stream_processors.records import InputRecord
from stream_processors.stages.common import dead_letter_and_fail, reject_poison, run_stage

log = logging.getLogger(__name__)

STAGE: Final = "conversation"

SessionTable = MutableMapping[str, dict[str, Any]]
"""session_id → ``{"state": ConversationState.to_dict(), "last_request_id", "last_reply"}``."""


async def process_turn(record: InputRecord, publisher: Publisher, sessions: SessionTable) -> None:
    """Handle one message of ``kmidi.interrogations.v1``; never raises for a bad message."""
    ctx = StageContext(STAGE, record, publisher)
    await run_stage(ctx, lambda: _process(ctx, sessions))


async def _process(ctx: StageContext, sessions: SessionTable) -> None:
    try:
        turn = parse_event(ctx.record, InterrogationTurn)
    except PoisonMessageError as poison:
        # Replies have no error envelope: the dead letter is the whole answer.
        await reject_poison(ctx, poison, answer_with_result=False)
        return

    ctx.identify(turn.request_id)
    with bound_request_id(turn.request_id):
        entry = sessions.get(turn.session_id)
        if entry is not None and entry.get("last_request_id") == turn.request_id:
            log.info(
                "turn seen before (replay); sending the stored reply again",
                extra={"stage": STAGE, "session_id": turn.session_id},
            )
            reply = InterrogationReply.model_validate(entry["last_reply"])
        else:
            try:
                state, reply = _advance(turn, entry)
            except Exception as exc:  # the dialogue code crashed on this turn
                log.exception("conversation turn failed")
                await dead_letter_and_fail(
                    ctx, reason=STAGE_ERROR, error=repr(exc), failure_code=None
                )
                return
            sessions[turn.session_id] = {
                "state": state,
                "last_request_id": turn.request_id,
                "last_reply": reply.model_dump(mode="json", by_alias=True),
            }
        await ctx.publisher.publish_event(
            INTERROGATION_REPLIES, turn.session_id, reply, ctx.output_headers(), stage=STAGE
        )
        log.info(
            "reply published",
            extra={
                "stage": STAGE,
                "session_id": turn.session_id,
                "turn": reply.turn,
                "ready": reply.ready,
            },
        )


def _advance(
    turn: InterrogationTurn, entry: dict[str, Any] | None
) -> tuple[dict[str, Any], InterrogationReply]:
    """One dialogue step from the stored state; the new state (plain dict) and the reply."""
    stored = entry.get("state") if entry else None
    state = domain.ConversationState.from_dict(stored) if stored else None
    new_state, answer = domain.advance(state, turn.message, session_id=turn.session_id)
    reply = InterrogationReply.model_validate(
        {**answer.to_dict(), "request_id": turn.request_id, "session_id": turn.session_id}
    )
    return new_state.to_dict(), reply
