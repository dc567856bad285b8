"""HTTP routes: request status (with long-poll), the MIDI and audio files, deletion, a status
event stream, probes."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from schemas.events import Artifact
from schemas.headers import REQUEST_ID_PATTERN
from schemas.http import ErrorBody, HealthReport, ResultStatus
from service_common.auth import api_key_id_of
from service_common.http import ApiError, error_response, request_id_of
from stream_processors.artifacts import ArtifactMissingError, ArtifactStore
from stream_processors.publishing import output_headers
from stream_processors.results_service.config import Settings
from stream_processors.results_service.consumer import ResultsConsumer
from stream_processors.results_service.deletion import TombstoneWriter
from stream_processors.results_service.rendering import PlanNotRenderableError, render_notes
from stream_processors.results_service.store import RequestEntry, ResultsView

SERVICE = "results_service"
MIDI_MEDIA_TYPE = "audio/midi"
_DELETE_VIEW_WAIT_SECONDS = 5.0

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


async def get_store(request: Request) -> ArtifactStore:
    store: ArtifactStore = request.app.state.store
    return store


async def get_tombstones(request: Request) -> TombstoneWriter:
    tombstones: TombstoneWriter = request.app.state.tombstones
    return tombstones


SettingsDep = Annotated[Settings, Depends(get_settings)]
ViewDep = Annotated[ResultsView, Depends(get_view)]
ConsumerDep = Annotated[ResultsConsumer, Depends(get_consumer)]
StoreDep = Annotated[ArtifactStore, Depends(get_store)]
TombstonesDep = Annotated[TombstoneWriter, Depends(get_tombstones)]
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


Visible = Callable[[RequestEntry | None], RequestEntry | None]


def _visibility(request: Request) -> Visible:
    """What this request may see of an entry: everything without API keys; with them, an
    entry submitted with this request's key, and nothing of any other (another key's, or
    an anonymous one written straight to Kafka), which answers exactly as an unknown ID
    does, so IDs cannot be probed."""
    if getattr(request.app.state, "api_keys", None) is None:
        return lambda entry: entry
    key_id = api_key_id_of(request)

    def visible(entry: RequestEntry | None) -> RequestEntry | None:
        if entry is None or entry.owner is None or entry.owner != key_id:
            return None
        return entry

    return visible


def _download_url(base_url: str, request_id: str, kind: str) -> str:
    return f"{base_url}/v1/results/{request_id}/{kind}"


def _status_body(
    entry: RequestEntry,
    base_url: str,
    *,
    plan: dict[str, Any] | None = None,
    notes: list[dict[str, Any]] | None = None,
    detailed: bool = False,
) -> dict[str, Any]:
    rid = entry.request_id
    status = ResultStatus(
        request_id=rid,
        status=entry.status,
        submitted_at=entry.submitted_at,
        updated_at=entry.updated_at,
        result_url=(
            _download_url(base_url, rid, "midi")
            if entry.status == "completed" and entry.has_midi
            else None
        ),
        error=entry.error,
        seed=entry.seed,
        duration_seconds=entry.duration_seconds,
        output_format=entry.output_format,
        audio_status=entry.audio_status,
        audio_url=(
            _download_url(base_url, rid, "audio") if entry.audio_status == "completed" else None
        ),
        # Over HTTP an artifact's uri is its download URL; the store's URI stays inside.
        artifacts=[
            a.model_copy(update={"uri": _download_url(base_url, rid, a.kind)})
            for a in entry.artifacts
        ],
        artifact_errors=list(entry.artifact_errors),
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
            description="Seconds to wait for completed/failed, and for the audio of an audio "
            "request (0 … LONG_POLL_MAX_SECONDS).",
        ),
    ] = None,
    format: Annotated[
        Literal["json"] | None,
        Query(description="`json` adds the musical plan and the note list."),
    ] = None,
) -> Response:
    entry = await _visible_entry(request, request_id, view, _check_wait(wait, settings))
    if isinstance(entry, _Gone):
        return Response(status_code=499)  # nobody reads it: the client has gone
    if entry is None:
        raise _not_found(request_id)
    if format != "json":
        return JSONResponse(_status_body(entry, settings.results_base_url))
    return await _detailed_status(entry, settings.results_base_url, request_id)


async def _visible_entry(
    request: Request, request_id: str, view: ResultsView, seconds: float
) -> RequestEntry | _Gone | None:
    """The entry this request may see, after waiting up to ``seconds`` for it to settle;
    ``_Gone.CLIENT`` when the client left during the wait."""
    visible = _visibility(request)
    if seconds > 0:
        # Another key's request waits the whole time, as an unknown one does.
        finished = view.wait_until(
            request_id, lambda e: (seen := visible(e)) is not None and seen.is_settled, seconds
        )
        waited = await _unless_disconnected(request, finished)
        if isinstance(waited, _Gone):
            return waited
        return visible(waited)
    return visible(view.get(request_id))


async def _detailed_status(entry: RequestEntry, base_url: str, request_id: str) -> Response:
    """The status with the stored plan and the notes it renders to (``?format=json``);
    without them when no plan is stored."""
    plan = entry.plan()
    if plan is None:
        return JSONResponse(_status_body(entry, base_url, detailed=True))
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
        _status_body(entry, base_url, plan=plan, notes=rendered.notes, detailed=True)
    )


_FILE_RESPONSES: dict[int | str, dict[str, Any]] = _ERRORS | {
    206: {"description": "The byte range asked for in Range (Content-Range says which)."},
    304: {"description": "Unchanged since the ETag given in If-None-Match."},
    409: {"model": ErrorBody, "description": "Not ready yet (Retry-After), or it failed."},
    410: {"model": ErrorBody, "description": "The file is no longer kept (retention)."},
    416: {"description": "The Range asked for lies outside the file."},
}
_MIDI_RESPONSES = _FILE_RESPONSES | {
    200: {"content": {MIDI_MEDIA_TYPE: {}}, "description": "The Standard MIDI File."},
}
_AUDIO_RESPONSES = _FILE_RESPONSES | {
    200: {
        "content": {"audio/ogg": {}, "audio/wav": {}},
        "description": "The rendered audio: OGG Vorbis, Ogg Opus or WAV as requested.",
    },
    422: {"model": ErrorBody, "description": "The request asked for MIDI only."},
}
_SUFFIXES = {"audio/midi": ".mid", "audio/wav": ".wav"}


def _not_ready(request: Request, what: str, status: str) -> JSONResponse:
    return error_response(
        request_id_of(request),
        409,
        "not_ready",
        f"the {what} is not ready yet (status: {status})",
        details=[{"status": status}],
        headers={"Retry-After": "1"},
    )


def _finished(request: Request, request_id: str, view: ResultsView) -> RequestEntry | Response:
    """The completed request's entry, or the error answer: unknown, failed, not ready."""
    entry = _visibility(request)(view.get(request_id))
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
        return _not_ready(request, "piece", entry.status)
    return entry


def _not_modified(request: Request, etag: str) -> bool:
    if_none_match = request.headers.get("if-none-match", "")
    return etag in (t.strip() for t in if_none_match.split(",")) or if_none_match.strip() == "*"


async def _serve_artifact(
    request: Request, store: ArtifactStore, artifact: Artifact, *, disposition: str
) -> Response:
    """The file from the store, with its SHA-256 as ETag; Starlette's FileResponse answers
    Range (206, multipart for several ranges, 416) and HEAD."""
    etag = f'"{artifact.sha256}"'
    # no-cache, not immutable: a later, different result for the ID replaces this one.
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    try:
        path = await asyncio.to_thread(store.local_path, artifact)
    except ArtifactMissingError as exc:
        raise ApiError(
            410, "artifact_gone", "the file is no longer kept (expired or deleted)"
        ) from exc
    request_id = request.path_params["request_id"]
    suffix = _SUFFIXES.get(artifact.media_type, path.suffix)
    return FileResponse(
        path,
        media_type=artifact.media_type,
        headers=headers,
        filename=f"kmidi-{request_id}{suffix}",
        content_disposition_type=disposition,
    )


async def get_midi(
    request_id: RequestIdPath, request: Request, view: ViewDep, store: StoreDep
) -> Response:
    entry = _finished(request, request_id, view)
    if isinstance(entry, Response):
        return entry
    artifact = entry.artifact("midi")
    if artifact is not None:
        return await _serve_artifact(request, store, artifact, disposition="attachment")
    # A result of revision 1.0 carries its MIDI inline only, and the view keeps it.
    if entry.midi is None or entry.midi_sha256 is None:
        raise ApiError(404, "not_found", "the result carries no MIDI file")
    etag = f'"{entry.midi_sha256}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="kmidi-{entry.request_id}.mid"'
    return Response(content=entry.midi, media_type=MIDI_MEDIA_TYPE, headers=headers)


async def get_audio(
    request_id: RequestIdPath, request: Request, view: ViewDep, store: StoreDep
) -> Response:
    entry = _finished(request, request_id, view)
    if isinstance(entry, Response):
        return entry
    if entry.output_format != "audio":
        raise ApiError(
            422,
            "not_audio",
            f'request {request_id!r} asked for MIDI only; submit with output_format "audio"',
        )
    artifact = entry.artifact("audio")
    if artifact is not None:
        # inline: an <audio> element plays it; a link with `download` still saves it.
        return await _serve_artifact(request, store, artifact, disposition="inline")
    failure = next((e for e in entry.artifact_errors if e.kind == "audio"), None)
    if failure is None:
        return _not_ready(request, "audio", "pending")
    return error_response(
        request_id_of(request),
        409,
        failure.code,
        f"the audio could not be made: {failure.message}",
        details=[{"audio_status": "failed", "error": failure.model_dump(mode="json")}],
    )


# GET and HEAD are two routes so that each has its own OpenAPI operationId (one route with
# both methods gives them the same one, and the document is invalid).
for _kind, _endpoint, _responses, _what in (
    ("midi", get_midi, _MIDI_RESPONSES, "MIDI file"),
    ("audio", get_audio, _AUDIO_RESPONSES, "audio file"),
):
    for _method, _summary in (
        ("GET", f"The finished piece as a {_what}; Range requests are answered"),
        ("HEAD", f"The {_what}'s headers (length, ETag) without its body"),
    ):
        router.add_api_route(
            f"/v1/results/{{request_id}}/{_kind}",
            _endpoint,
            methods=[_method],
            operation_id=f"{_method.lower()}_result_{_kind}",
            response_class=Response,
            responses=_responses,
            summary=_summary,
            tags=["results"],
        )


@router.delete(
    "/v1/results/{request_id}",
    status_code=204,
    response_class=Response,
    responses=_ERRORS
    | {503: {"model": ErrorBody, "description": "The broker did not take the deletion."}},
    summary="Delete a request: its result, its view entry and its files",
    tags=["results"],
)
async def delete_result(
    request_id: RequestIdPath,
    request: Request,
    view: ViewDep,
    store: StoreDep,
    tombstones: TombstonesDep,
) -> Response:
    if _visibility(request)(view.get(request_id)) is None:
        raise _not_found(request_id)
    headers = output_headers(request_id, request.headers.get("traceparent"))
    try:
        await tombstones.write(request_id, headers)
    except Exception as exc:  # any client or broker error: nothing was deleted
        log.warning("tombstone not written: %r", exc, extra={"result_id": request_id})
        raise ApiError(
            503, "broker_unavailable", "the deletion could not be written to Kafka; retry"
        ) from exc
    # After the tombstone: a failed write above leaves the request whole, files included.
    removed = await asyncio.to_thread(store.delete_request, request_id)
    log.info("request deleted", extra={"result_id": request_id, "files_removed": removed})
    # Read-your-writes: answer once this replica's view has applied the tombstone.
    await view.wait_until(request_id, lambda e: e is None, _DELETE_VIEW_WAIT_SECONDS)
    return Response(status_code=204)


async def _status_events(
    request_id: str, view: ResultsView, settings: Settings, visible: Visible
) -> AsyncIterator[ServerSentEvent]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.sse_max_seconds
    sent_version = -1
    with view.subscribe(request_id) as changed:
        while True:
            # Cleared before reading, so a change made while a yield is in flight still
            # wakes the next wait instead of being lost.
            changed.clear()
            # Checked on every change: a request that goes to another key ends the stream.
            entry = visible(view.peek(request_id))
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
                if entry.is_settled:
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
    request_id: RequestIdPath, request: Request, settings: SettingsDep, view: ViewDep
) -> EventSourceResponse:
    # The ingress answers 202 only once the intent is in Kafka, so an ID it just handed
    # out appears here within moments: wait briefly before calling it unknown.
    visible = _visibility(request)
    entry = await view.wait_until(
        request_id, lambda e: visible(e) is not None, settings.sse_unknown_grace_seconds
    )
    if visible(entry) is None:
        raise _not_found(request_id)
    return EventSourceResponse(
        _status_events(request_id, view, settings, visible),
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
        reason=consumer.last_error,
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
