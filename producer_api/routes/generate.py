"""``POST /v1/generate`` (and the seed's ``POST /generate``): accept an intent for composing."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from producer_api.idempotency import (
    MAX_KEY_CHARS,
    check_key,
    fingerprint,
    replay_or_refuse,
    require_store,
)
from producer_api.intents import check_technical, submit_intent
from producer_api.limits import generate_limit
from producer_api.openapi import IDEMPOTENCY_IN_USE, error_responses
from schemas.events import IntentSubmitted
from schemas.http import GenerateAccepted, GenerateRequest
from service_common.auth import api_key_id_of
from service_common.http import request_id_of
from service_common.tracing import child_traceparent

router = APIRouter(tags=["generation"])
IDEMPOTENCY_KEY = "Idempotency-Key"

_ACCEPTED = {
    "description": "Kafka acknowledged the intent (acks=all); poll status_url for the piece.",
    "headers": {
        "Location": {"description": "= status_url", "schema": {"type": "string"}},
        "X-Request-ID": {
            "description": "This exchange's ID: = request_id, except on a replay",
            "schema": {"type": "string"},
        },
        "Idempotent-Replayed": {
            "description": "true when the answer is the first request's, replayed for a "
            "retry with the same Idempotency-Key and body (nothing was published)",
            "schema": {"type": "string"},
        },
    },
    "content": {
        "application/json": {
            "example": {
                "request_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                "status": "accepted",
                "status_url": "http://127.0.0.1:8001/v1/results/4bf92f3577b34da6a3ce929d0e0e4736",
                "result_url": "http://127.0.0.1:8001/v1/results/4bf92f3577b34da6a3ce929d0e0e4736/midi",
            }
        }
    },
}
_DOC = {
    "status_code": 202,
    "response_model": GenerateAccepted,
    "responses": {
        202: _ACCEPTED,
        409: IDEMPOTENCY_IN_USE,
        **error_responses(400, 413, 415, 422, 429, 503),
    },
    "openapi_extra": {
        "parameters": [
            {
                "name": IDEMPOTENCY_KEY,
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS},
                "description": "Retry safely: the same key and body within 24 h answer with "
                "the first request's 202 and publish nothing; the same key with another body "
                "gets 422 idempotency_key_reused; while the first is being published, 409.",
            }
        ]
    },
}


@router.post(
    "/v1/generate",
    summary="Submit an emotional intent for composing",
    description=(
        "Validates the intent (technical wishes included), publishes it to "
        "`kmidi.intents.v1` and answers 202 once Kafka acknowledged it. The piece is then "
        "served by the results service at `status_url` / `result_url`."
    ),
    **_DOC,  # type: ignore[arg-type]
)
@router.post(
    "/generate",
    summary="Submit an emotional intent (seed service path)",
    description="The seed service's path; same body and answers as `POST /v1/generate`.",
    **_DOC,  # type: ignore[arg-type]
)
async def generate(body: GenerateRequest, request: Request) -> Response:
    # Settings, publisher and request ID are read from the app and the request here rather
    # than declared as dependencies: on this hot path FastAPI's dependency solving cost
    # more than validating, publishing and answering together (docs/performance.md). The
    # 202 body is serialised once, not validated again as a response model.
    await generate_limit(request)
    check_technical(body.intent)
    request_id = request_id_of(request)
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is None:
        accepted = await _submit(body, request, request_id)
        return _accepted(accepted.model_dump_json().encode(), accepted.status_url)
    store = require_store(request.app.state.idempotency)
    body_print = fingerprint(body)
    # Each API key has its own Idempotency-Keys: another client's same key is not a retry.
    key = _scoped(check_key(key), api_key_id_of(request))
    claim = await store.claim(key, body_print, request_id)
    if not claim.fresh:
        first = replay_or_refuse(claim, body_print)
        location = GenerateAccepted.model_validate_json(first).status_url
        return _accepted(first, location, replayed=True)
    try:
        accepted = await _submit(body, request, request_id)
    except BaseException:
        await store.release(key, request_id)
        raise
    payload = accepted.model_dump_json().encode()
    await store.complete(key, request_id, payload)
    return _accepted(payload, accepted.status_url)


async def _submit(body: GenerateRequest, request: Request, request_id: str) -> GenerateAccepted:
    """Publish the intent (acks=all); what the 202 says."""
    event = IntentSubmitted(
        request_id=request_id,
        intent=body.intent,
        seed=body.seed,
        output_format=body.output_format,
        audio_format=body.audio_format,
        source="producer_api",
    )
    state = request.app.state
    return await submit_intent(
        state.publisher,
        state.settings,
        event,
        traceparent=child_traceparent(request.headers.get("traceparent")),
        api_key_id=api_key_id_of(request),
    )


def _scoped(key: str, api_key_id: str | None) -> str:
    """The store's name for an Idempotency-Key: the API key's id before it, with keys."""
    return key if api_key_id is None else f"{api_key_id}:{key}"


def _accepted(payload: bytes, location: str, *, replayed: bool = False) -> Response:
    """The 202, its body serialised once (a replay's comes from the store as it was sent)."""
    headers = {"Location": location}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(payload, status_code=202, media_type="application/json", headers=headers)
