"""``POST /v1/generate`` (and the seed's ``POST /generate``): accept an intent for composing."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from producer_api.intents import check_technical, submit_intent
from producer_api.limits import generate_limit
from producer_api.openapi import error_responses
from schemas.events import IntentSubmitted
from schemas.http import GenerateAccepted, GenerateRequest
from service_common.http import request_id_of
from service_common.tracing import child_traceparent

router = APIRouter(tags=["generation"])

_ACCEPTED = {
    "description": "Kafka acknowledged the intent (acks=all); poll status_url for the piece.",
    "headers": {
        "Location": {"description": "= status_url", "schema": {"type": "string"}},
        "X-Request-ID": {"description": "= request_id", "schema": {"type": "string"}},
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
    "responses": {202: _ACCEPTED, **error_responses(413, 415, 422, 429, 503)},
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
    state = request.app.state
    await generate_limit(request)
    check_technical(body.intent)
    event = IntentSubmitted(
        request_id=request_id_of(request),
        intent=body.intent,
        seed=body.seed,
        output_format=body.output_format,
        audio_format=body.audio_format,
        source="producer_api",
    )
    accepted = await submit_intent(
        state.publisher,
        state.settings,
        event,
        traceparent=child_traceparent(request.headers.get("traceparent")),
    )
    return Response(
        accepted.model_dump_json().encode(),
        status_code=202,
        media_type="application/json",
        headers={"Location": accepted.status_url},
    )
