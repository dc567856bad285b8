"""HTTP routes: request status (with long-poll), the MIDI file, a status event stream, probes."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from schemas.headers import REQUEST_ID_PATTERN
from schemas.http import ErrorBody, HealthReport, ResultStatus
from service_common.http import ApiError, error_response, request_id_of
from stream_processors.results_service.config import Settings
from stream_processors.results_service.consumer import ResultsConsumer
from stream_processors.results_service.rendering import PlanNotRenderableError, render_notes
from stream_processors.results_service.store import RequestEntry, ResultsView

SERVICE = "results_service"
MIDI_MEDIA_TYPE = "audio/midi"

try:
    VERSION = version("kmidi")
except PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0+unknown"

router = APIRouter()
log = logging.getLogger(__name__)

# The dependencies are ``async def`` although none awaits: FastAPI sends a plain ``def``
# dependency to its thread pool, which costs more than reading app.state.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_view(request: Request) -> ResultsView:
    view: ResultsView = request.app.state.view
    return view


async def get_consumer(request: Request) -> ResultsConsumer:
    consumer: ResultsConsumer = request.app.state.consumer
    return consumer


SettingsDep = Annotated[Settings, Depends(get_settings)]
ViewDep = Annotated[ResultsView, Depends(get_view)]
ConsumerDep = Annotated[ResultsConsumer, Depends(get_consumer)]
RequestIdPath = Annotated[
    str,
    Path(
        pattern=REQUEST_ID_PATTERN.pattern,
        description="The request ID from the 202 answer: 1–64 of [A-Za-z0-9._-].",
        examples=["3f6c1c9e8f0e4a43a1d1c43a0e0c9b6a"],
    ),
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No request with this ID is known here."},
    422: {"model": ErrorBody, "description": "Malformed request ID or query parameter."},
}


def _not_found(request_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no request {request_id!r} is known")


def _status_body(
    entry: RequestEntry,
    base_url: str,
    *,
    plan: dict[str, Any] | None = None,
    notes: list[dict[str, Any]] | None = None,
    detailed: bool = False,
) -> dict[str, Any]:
    status = ResultStatus(
        request_id=entry.request_id,
        status=entry.status,
        submitted_at=entry.submitted_at,
        updated_at=entry.updated_at,
        result_url=(
            f"{base_url}/v1/results/{entry.request_id}/midi"
            if entry.status == "completed" and entry.midi is not None
            else None
        ),
        error=entry.error,
        seed=entry.seed,
        duration_seconds=entry.duration_seconds,
        affect=entry.affect,
        plan=plan,
        notes=notes,
    )
    # plan and notes are part of the body only when asked for, so polling stays small.
    return status.model_dump(mode="json", exclude=None if detailed else {"plan", "notes"})


T = TypeVar("T")


class _Gone(enum.Enum):
    """What ``_unless_disconnected`` returns when the client left first."""

    CLIENT = enum.auto()


async def _unless_disconnected(request: Request, waiting: Awaitable[T]) -> T | _Gone:
    """``waiting``'s result, or ``_Gone.CLIENT`` as soon as the client disconnects.

    Without this a long-poll whose client has gone keeps its waiter (and the connection's
    task) until ``wait`` runs out.
    """

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    result = asyncio.ensure_future(waiting)
    gone = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait((result, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        pending = [task for task in (result, gone) if not task.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    if result.done() and not result.cancelled():
        return result.result()
    log.debug("client went away during a long-poll")
    return _Gone.CLIENT


def _check_wait(wait: float | None, settings: Settings) -> float:
    if wait is None:
        return 0.0
    if wait > settings.long_poll_max_seconds:
        limit = settings.long_poll_max_seconds
        raise RequestValidationError(
            [
                {
                    "type": "less_than_equal",
                    "loc": ("query", "wait"),
                    "msg": f"Input should be less than or equal to {limit:g}",
                    "input": wait,
                    "ctx": {"le": limit},
                }
            ]
        )
    return wait


@router.get(
    "/v1/results/{request_id}",
    response_model=ResultStatus,
    responses=_ERRORS
    | {409: {"model": ErrorBody, "description": "?format=json: the stored plan is unusable."}},
    summary="A request's status; optionally wait for it to finish",
    tags=["results"],
)
async def get_status(
    request: Request,
    request_id: RequestIdPath,
    settings: SettingsDep,
    view: ViewDep,
    wait: Annotated[
        float | None,
        Query(
            ge=0,
            allow_inf_nan=False,
            description="Seconds to wait for completed/failed (0 … LONG_POLL_MAX_SECONDS).",
        ),
    ] = None,
    format: Annotated[
        Literal["json"] | None,
        Query(description="`json` adds the musical plan and the note list."),
    ] = None,
) -> Response:
    seconds = _check_wait(wait, settings)
    if seconds > 0:
        finished = view.wait_until(request_id, lambda e: e is not None and e.is_terminal, seconds)
        waited = await _unless_disconnected(request, finished)
        if isinstance(waited, _Gone):
            return Response(status_code=499)  # nobody reads it: the client has gone
        entry = waited
    else:
        entry = view.get(request_id)
    if entry is None:
        raise _not_found(request_id)
    if format != "json":
        return JSONResponse(_status_body(entry, settings.results_base_url))
    plan = entry.plan()
    if plan is None:
        return JSONResponse(_status_body(entry, settings.results_base_url, detailed=True))
    try:
        # Rendering takes milliseconds of CPU: keep it off the event loop.
        rendered = await asyncio.to_thread(render_notes, plan)
    except PlanNotRenderableError as exc:
        raise ApiError(
            409, "plan_not_renderable", f"the stored plan cannot be rendered: {exc}"
        ) from exc
    if entry.midi_sha256 is not None and rendered.midi_sha256 != entry.midi_sha256:
        # The renderer changed since the piece was made: the notes describe today's rendering.
        log.warning(
            "re-rendered notes differ from the stored MIDI", extra={"result_id": request_id}
        )
    return JSONResponse(
        _status_body(
            entry, settings.results_base_url, plan=plan, notes=rendered.notes, detailed=True
        )
    )


_MIDI_RESPONSES: dict[int | str, dict[str, Any]] = _ERRORS | {
    200: {"content": {MIDI_MEDIA_TYPE: {}}, "description": "The Standard MIDI File."},
    304: {"description": "Unchanged since the ETag given in If-None-Match."},
    409: {"model": ErrorBody, "description": "Not finished yet, or generation failed."},
}


async def get_midi(request_id: RequestIdPath, request: Request, view: ViewDep) -> Response:
    entry = view.get(request_id)
    if entry is None:
        raise _not_found(request_id)
    if entry.status == "failed":
        error = entry.error.model_dump(mode="json") if entry.error else None
        return error_response(
            request_id_of(request),
            409,
            "generation_failed",
            f"generation failed: {entry.error.message if entry.error else 'no reason given'}",
            details=[{"status": entry.status, "error": error}],
        )
    if entry.status != "completed":
        return error_response(
            request_id_of(request),
            409,
            "not_ready",
            f"the piece is not ready yet (status: {entry.status})",
            details=[{"status": entry.status}],
            headers={"Retry-After": "1"},
        )
    if entry.midi is None or entry.midi_sha256 is None:
        raise ApiError(404, "not_found", "the result carries no MIDI file")
    etag = f'"{entry.midi_sha256}"'
    # no-cache, not immutable: a later, different result for the ID replaces this one.
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if_none_match = request.headers.get("if-none-match", "")
    if etag in (tag.strip() for tag in if_none_match.split(",")) or if_none_match.strip() == "*":
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="kmidi-{entry.request_id}.mid"'
    return Response(content=entry.midi, media_type=MIDI_MEDIA_TYPE, headers=headers)


# GET and HEAD are two routes so that each has its own OpenAPI operationId (one route with
# both methods gives them the same one, and the document is invalid).
for _method, _operation, _summary in (
    ("GET", "get_result_midi", "The finished piece as a MIDI file"),
    ("HEAD", "head_result_midi", "The MIDI file's headers (length, ETag) without its body"),
):
    router.add_api_route(
        "/v1/results/{request_id}/midi",
        get_midi,
        methods=[_method],
        operation_id=_operation,
        response_class=Response,
        responses=_MIDI_RESPONSES,
        summary=_summary,
        tags=["results"],
    )


async def _status_events(
    request_id: str, view: ResultsView, settings: Settings
) -> AsyncIterator[ServerSentEvent]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.sse_max_seconds
    sent_version = -1
    with view.subscribe(request_id) as changed:
        while True:
            # Cleared before reading, so a change made while a yield is in flight still
            # wakes the next wait instead of being lost.
            changed.clear()
            entry = view.peek(request_id)
            if entry is None:
                body = {"code": "not_found", "message": "the request is no longer known here"}
                yield ServerSentEvent(event="error", data=json.dumps(body))
                return
            if entry.version != sent_version:
                sent_version = entry.version
                yield ServerSentEvent(
                    event="status",
                    id=str(entry.version),
                    data=json.dumps(_status_body(entry, settings.results_base_url)),
                )
                if entry.is_terminal:
                    return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return  # EventSource clients reconnect and get the current state first
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)


@router.get(
    "/v1/results/{request_id}/events",
    response_class=EventSourceResponse,
    responses=_ERRORS
    | {200: {"content": {"text/event-stream": {}}, "description": "`event: status` messages."}},
    summary="Server-Sent Events of the request's status until it finishes",
    tags=["results"],
)
async def stream_status(
    request_id: RequestIdPath, settings: SettingsDep, view: ViewDep
) -> EventSourceResponse:
    # The ingress answers 202 only once the intent is in Kafka, so an ID it just handed
    # out appears here within moments: wait briefly before calling it unknown.
    entry = await view.wait_until(
        request_id, lambda e: e is not None, settings.sse_unknown_grace_seconds
    )
    if entry is None:
        raise _not_found(request_id)
    return EventSourceResponse(
        _status_events(request_id, view, settings),
        ping=max(1, round(settings.sse_ping_seconds)),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _report(consumer: ResultsConsumer, *, ok: bool) -> HealthReport:
    return HealthReport(
        status="ok" if ok else "unavailable",
        service=SERVICE,
        version=VERSION,
        uptime_seconds=round(time.monotonic() - consumer.started_at, 3),
        checks={
            "consumer_running": consumer.running,
            "broker_connected": consumer.connected,
            "caught_up": consumer.caught_up.is_set(),
        },
    )


@router.get("/live", response_model=HealthReport, tags=["operations"])
async def live(consumer: ConsumerDep) -> HealthReport:
    """The process answers; says nothing about Kafka."""
    report = _report(consumer, ok=True)
    return report


@router.get(
    "/ready",
    response_model=HealthReport,
    responses={503: {"model": HealthReport, "description": "Not caught up, or no broker."}},
    tags=["operations"],
)
async def ready(consumer: ConsumerDep) -> JSONResponse:
    """200 once the view has replayed Kafka up to start-up and the broker answers."""
    report = _report(consumer, ok=consumer.ready)
    return JSONResponse(report.model_dump(mode="json"), status_code=200 if consumer.ready else 503)


@router.get("/health", response_model=HealthReport, tags=["operations"])
async def health(consumer: ConsumerDep) -> HealthReport:
    """Always 200; ``degraded`` while not ready, with the individual checks."""
    report = _report(consumer, ok=True)
    report.status = "ok" if consumer.ready else "degraded"
    return report
