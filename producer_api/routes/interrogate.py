"""``POST /v1/interrogate`` (and ``/interrogate``): one turn of the refinement conversation."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from pydantic import ValidationError

from producer_api.core.config import Settings
from producer_api.deps import PublisherDep, ReplyWaiterDep, RequestIdDep, SettingsDep
from producer_api.intents import check_technical, publish_event, submit_intent
from producer_api.kafka import EventPublisher
from producer_api.limits import interrogate_limit
from producer_api.openapi import error_responses
from producer_api.replies import ReplyWaiter, RequestInFlightError
from schemas.events import IntentSubmitted, InterrogationReply, InterrogationTurn
from schemas.http import GenerateAccepted, InterrogateRequest, InterrogateResponse
from schemas.intent import Intent
from schemas.topics import INTERROGATIONS
from service_common.auth import api_key_id_of
from service_common.http import ApiError
from service_common.tracing import child_traceparent

log = logging.getLogger(__name__)
router = APIRouter(tags=["interrogation"])

_OK = {
    "description": "The interrogation stage's reply to this turn.",
    "content": {
        "application/json": {
            "example": {
                "request_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                "session_id": "9f1c2a7e4b0d4c9e8a1f6b3d2e5c7a90",
                "turn": 1,
                "ready": False,
                "question": "What do you miss most about him?",
                "suggestions": ["his laugh", "Sunday walks"],
                "extracted": {"emotion": "grief"},
                "intent": {"emotional_intent": "I lost my dad last spring"},
                "affect": {"valence": -0.7, "arousal": 0.3},
                "generation": None,
            }
        }
    },
}
_DOC = {
    "response_model": InterrogateResponse,
    "responses": {200: _OK, **error_responses(400, 409, 413, 415, 422, 429, 503, 504)},
    "dependencies": [Depends(interrogate_limit)],
}


@router.post(
    "/v1/interrogate",
    summary="Send one message of a refinement conversation",
    description=(
        "Publishes the turn to `kmidi.interrogations.v1` (key = session_id) and waits up to "
        "INTERROGATE_TIMEOUT_SECONDS for the interrogation stage's reply. Omit `session_id` "
        "to start a conversation; with `submit: true` and a ready intent the intent is also "
        "submitted for generation (`generation` in the answer)."
    ),
    **_DOC,  # type: ignore[arg-type]
)
@router.post(
    "/interrogate",
    summary="Send one message of a refinement conversation (seed service path)",
    description="The seed service's path; same as `POST /v1/interrogate`.",
    **_DOC,  # type: ignore[arg-type]
)
async def interrogate(
    body: InterrogateRequest,
    request: Request,
    publisher: PublisherDep,
    replies: ReplyWaiterDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    traceparent: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> InterrogateResponse:
    session_id = body.session_id or uuid.uuid4().hex
    api_key_id = api_key_id_of(request)
    trace = child_traceparent(traceparent)
    turn = InterrogationTurn(
        request_id=request_id,
        # What the stage knows the conversation by: with API keys, a name of this key's own.
        session_id=key_session(api_key_id, session_id),
        message=body.message,
    )
    reply = await _ask(turn, publisher, replies, settings, trace, api_key_id, session_id)
    answer = InterrogateResponse(
        request_id=request_id,
        session_id=session_id,
        turn=reply.turn,
        ready=reply.ready,
        question=reply.question,
        suggestions=reply.suggestions,
        extracted=reply.extracted,
        intent=reply.intent,
        affect=reply.affect,
    )
    if body.submit and reply.ready:
        answer.generation = await _submit(body, reply, publisher, settings, trace, api_key_id)
    return answer


async def _ask(
    turn: InterrogationTurn,
    publisher: EventPublisher,
    replies: ReplyWaiter,
    settings: Settings,
    trace: str,
    api_key_id: str | None,
    session_id: str,
) -> InterrogationReply:
    """Publish the turn and wait for the stage's reply (503, 409 or 504 otherwise)."""
    request_id, wire_session = turn.request_id, turn.session_id
    future = _register(replies, request_id, wire_session)
    try:
        await publish_event(
            publisher,
            topic=INTERROGATIONS,
            key=wire_session,
            event=turn,
            request_id=request_id,
            traceparent=trace,
            api_key_id=api_key_id,
        )
        return await replies.wait(
            request_id, future, settings.interrogate_timeout_seconds, wire_session
        )
    except TimeoutError as exc:
        raise _no_reply(settings, session_id, request_id) from exc
    finally:
        replies.discard(request_id, wire_session)


def _register(
    replies: ReplyWaiter, request_id: str, wire_session: str
) -> asyncio.Future[InterrogationReply]:
    """Where the reply to the turn will arrive: 503 while the replies are not read yet, 409
    when ``request_id`` already waits for one."""
    if not replies.running:
        raise ApiError(
            503,
            "broker_unavailable",
            "not connected to the interrogation replies yet; retry later",
            headers={"Retry-After": "2"},
        )
    try:
        return replies.register(request_id, wire_session)
    except RequestInFlightError as exc:
        raise ApiError(
            409, "request_in_flight", f"request {request_id} is already waiting for a reply"
        ) from exc


def _no_reply(settings: Settings, session_id: str, request_id: str) -> ApiError:
    """The 504 for a turn the stage did not answer in time, saying how to ask again."""
    return ApiError(
        504,
        "interrogation_timeout",
        f"no reply for session {session_id} within "
        f"{settings.interrogate_timeout_seconds:g} s; send the same message again "
        f"with this session_id and X-Request-ID: {request_id} (a resent turn is "
        "answered once, not counted twice)",
        details=[{"session_id": session_id}],
    )


async def _submit(
    body: InterrogateRequest,
    reply: InterrogationReply,
    publisher: EventPublisher,
    settings: Settings,
    trace: str,
    api_key_id: str | None,
) -> GenerateAccepted:
    """Submit the intent a finished conversation arrived at (``submit: true``)."""
    try:
        intent = Intent.model_validate(reply.intent)
    except ValidationError as exc:
        log.warning("ready intent from the interrogation stage is invalid", exc_info=exc)
        raise ApiError(
            422, "invalid_intent", "the conversation's intent cannot be submitted yet"
        ) from exc
    check_technical(intent)
    event = IntentSubmitted(
        request_id=reply.request_id,
        intent=intent,
        seed=body.seed,
        output_format=body.output_format,
        audio_format=body.audio_format,
        source="producer_api",
        session_id=reply.session_id,
    )
    return await submit_intent(publisher, settings, event, traceparent=trace, api_key_id=api_key_id)


def key_session(api_key_id: str | None, session_id: str) -> str:
    """The session ID on Kafka: the client's, or with API keys ``<key id>.<client's>``.

    Two keys that use the same session ID (a guessed one, or a common name such as "s1")
    then hold two conversations, and neither reads or continues the other's. A name too
    long for a session ID (64 characters) keeps the key id and a digest of the client's.
    """
    if api_key_id is None:
        return session_id
    scoped = f"{api_key_id}.{session_id}"
    if len(scoped) <= 64:
        return scoped
    digest = hashlib.sha256(session_id.encode()).hexdigest()
    return f"{api_key_id}.{digest[: 64 - len(api_key_id) - 1]}"
