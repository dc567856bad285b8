"""HTTP plumbing shared by the ingress and the results service.

Request IDs, access logs, Prometheus HTTP metrics, a body size limit and error bodies in
the ``ErrorBody`` shape. The middlewares are pure ASGI (not ``BaseHTTPMiddleware``) so
streaming and SSE responses pass through untouched and the request ID context variable
is visible to the endpoint.

Call :func:`install_http_observability` *after* adding other middleware (CORS, …): it
must be the outermost layer so every response, preflights included, carries the ID.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.events import ErrorInfo
from schemas.headers import HTTP_REQUEST_ID, is_valid_request_id
from schemas.http import ErrorBody
from service_common import telemetry
from service_common.logging import request_id_var

logger = logging.getLogger("kmidi.http")
access_logger = logging.getLogger("kmidi.http.access")

UNMATCHED_ROUTE: Final = "<unmatched>"
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
"""Holds every body the contract allows: three texts of 20,000 characters, JSON-escaped
(up to 12 bytes a character), about 720 kB. 64 KiB refused valid bodies (schemathesis)."""
MAX_ERROR_DETAILS: Final = 20
"""A body with thousands of wrong items gets the first few errors, not a megabyte back."""
_MAX_DETAIL_CHARS: Final = 200

_QUIET_ROUTES: Final = frozenset({"/metrics", "/live", "/ready", "/health"})
"""Probes and scrapes arrive every few seconds; their access lines are logged at DEBUG."""

DURATION_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0
)  # fmt: skip

_STATUS_CODES: Final[Mapping[int, str]] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "timeout",
}


# --------------------------------------------------------------------------- metrics


class HttpMetrics:
    """The HTTP counters and histograms of one registry (created once per registry)."""

    _by_registry: dict[int, HttpMetrics] = {}  # noqa: RUF012 - a per-class cache on purpose

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "kmidi_http_requests",
            "HTTP requests answered, by route template, method and status class.",
            ["route", "method", "status_class"],
            registry=registry,
        )
        self.duration = Histogram(
            "kmidi_http_request_duration_seconds",
            "Time from request start to the end of the response, by route template.",
            ["route", "method"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )

    @classmethod
    def for_registry(cls, registry: CollectorRegistry = REGISTRY) -> HttpMetrics:
        """The metrics of ``registry``; several apps in one process share them."""
        metrics = cls._by_registry.get(id(registry))
        if metrics is None:
            metrics = cls._by_registry[id(registry)] = cls(registry)
        return metrics

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, f"{status // 100}xx").inc()
        self.duration.labels(route, method).observe(seconds)


def route_template(scope: Scope) -> str:
    """The matched route's path template, never the concrete path (keeps labels few)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    # Requests answered before routing (413 by Content-Length, 401 without an API key)
    # still get their template; FastAPI's included routers hold the routes themselves.
    app = scope.get("app")
    for candidate in _leaf_routes(getattr(getattr(app, "router", None), "routes", ())):
        try:
            match, _ = candidate.matches(scope)
        except Exception:  # a custom route class with odd matching must not break metrics
            continue
        candidate_path = getattr(candidate, "path", None)
        if match is Match.FULL and isinstance(candidate_path, str) and candidate_path:
            return candidate_path
    return UNMATCHED_ROUTE


# --------------------------------------------------------------------------- error bodies


def request_id_of(request: Request) -> str:
    """The ID the middleware assigned, else the context's, else a new one."""
    state = request.scope.get("state") or {}
    value = state.get("request_id") if isinstance(state, dict) else None
    return value or request_id_var.get() or uuid.uuid4().hex


async def current_request_id(request: Request) -> str:
    """``request_id_of`` as a dependency: ``async``, so FastAPI calls it on the event loop
    instead of handing it to its thread pool."""
    return request_id_of(request)


def error_response(
    request_id: str,
    status_code: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON response in the ``ErrorBody`` shape."""
    body = ErrorBody(
        request_id=request_id, error=ErrorInfo(code=code, message=message), details=details
    )
    response_headers = dict(headers or {})
    response_headers[HTTP_REQUEST_ID] = request_id
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status_code,
        headers=response_headers,
    )


class ApiError(StarletteHTTPException):
    """An HTTP error with a stable machine code, rendered as ``ErrorBody``."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=message, headers=dict(headers or {}))
        self.code = code
        self.message = message
        self.details = details


class BodyTooLargeError(ApiError):
    """Raised while reading a body that outgrows the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, "payload_too_large", f"request body larger than {limit} bytes")


def _short(value: object) -> object:
    """A JSON-able, bounded rendering of a validation context value."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = str(value)
    return text if len(text) <= _MAX_DETAIL_CHARS else text[:_MAX_DETAIL_CHARS] + "…"


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """pydantic's errors with ``loc``/``msg``/``type`` (and a bounded ``ctx``), never ``input``."""
    details: list[dict[str, Any]] = []
    for error in list(errors)[:MAX_ERROR_DETAILS]:
        if not isinstance(error, Mapping):
            details.append({"loc": [], "msg": _short(error), "type": "value_error"})
            continue
        detail: dict[str, Any] = {
            "loc": [part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
            "msg": _short(error.get("msg", "")),
            "type": str(error.get("type", "value_error")),
        }
        ctx = error.get("ctx")
        if isinstance(ctx, Mapping) and ctx:
            detail["ctx"] = {str(key): _short(value) for key, value in ctx.items()}
        details.append(detail)
    return details


def _location(error: Mapping[str, Any]) -> str:
    return ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    """422 (or 415 for a body that was not sent as JSON) in the ``ErrorBody`` shape."""
    assert isinstance(exc, RequestValidationError)
    request_id = request_id_of(request)
    errors = list(exc.errors())
    if any(isinstance(e, Mapping) and e.get("type") == "json_invalid" for e in errors):
        return error_response(
            request_id,
            422,
            "invalid_json",
            "request body is not valid JSON",
            details=validation_details(errors),
        )
    # FastAPI hands the raw bytes to validation when the content type is not JSON.
    if isinstance(exc.body, bytes | bytearray) and exc.body:
        return error_response(
            request_id,
            415,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        )
    first = errors[0] if errors and isinstance(errors[0], Mapping) else {}
    message = (
        f"{_location(first)}: {_short(first.get('msg', 'invalid'))}"
        if first
        else "request is invalid"
    )
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return error_response(
        request_id, 422, "validation_error", message, details=validation_details(errors)
    )


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Any ``HTTPException`` (ours or the framework's 404/405) as ``ErrorBody``."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the first route's methods when several routes share a path.
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    details: list[dict[str, Any]] | None = None
    if isinstance(exc, ApiError):
        code, message, details = exc.code, exc.message, exc.details
    else:
        code = _STATUS_CODES.get(exc.status_code, f"http_{exc.status_code}")
        detail = exc.detail
        if isinstance(detail, Mapping) and "code" in detail:
            code, message = str(detail["code"]), str(detail.get("message", ""))
        elif isinstance(detail, str) and detail:
            message = detail
        else:
            message = HTTPStatus(exc.status_code).phrase
    return error_response(
        request_id_of(request), exc.status_code, code, message, details=details, headers=headers
    )


def _allowed_methods(request: Request) -> str:
    """Every method some route of the app serves at this request's path."""
    methods: set[str] = set()
    for route in _leaf_routes(getattr(request.app.router, "routes", ())):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def _leaf_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Routes with paths, through FastAPI's included routers (kmidi's routers declare full
    paths and no prefix, so the included routes' own paths are the served ones)."""
    for route in routes:
        nested = getattr(getattr(route, "original_router", None), "routes", None)
        if nested is not None and getattr(route, "path_regex", None) is None:
            yield from _leaf_routes(nested)
        else:
            yield route


async def handle_unexpected_exception(request: Request, exc: Exception) -> Response:
    """500 without a stack trace in the body; the traceback goes to the log."""
    logger.error("unhandled exception", exc_info=exc)
    return error_response(request_id_of(request), 500, "internal_error", "internal server error")


# --------------------------------------------------------------------------- middleware


def _header(scope: Scope, name: str) -> str | None:
    return Headers(scope=scope).get(name)


def _given_request_id(scope: Scope) -> str | None:
    """The caller's request ID header, when it is a valid ID."""
    given = _header(scope, HTTP_REQUEST_ID)
    return given if given is not None and is_valid_request_id(given) else None


async def _send_error(
    send: Send, request_id: str, status_code: int, code: str, message: str
) -> None:
    response = error_response(request_id, status_code, code, message)
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})


class RequestContextMiddleware:
    """Request ID in and out, access log, HTTP metrics, last-resort 500 in ``ErrorBody`` shape."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _given_request_id(scope) or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status_code = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
                response_started = True
                MutableHeaders(scope=message)[HTTP_REQUEST_ID] = request_id
            await send(message)

        token = request_id_var.set(request_id)
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled exception")
            if response_started:
                raise
            status_code = 500
            await _send_error(send, request_id, 500, "internal_error", "internal server error")
        finally:
            self._record(scope, state, request_id, status_code, time.perf_counter() - start)
            request_id_var.reset(token)

    def _record(
        self,
        scope: Scope,
        state: dict[str, Any],
        request_id: str,
        status_code: int,
        duration: float,
    ) -> None:
        """Count the request in the HTTP metrics and write its access log line."""
        route = route_template(scope)
        method = str(scope.get("method", "GET"))
        self.metrics.observe(route, method, status_code, duration)
        extra = {
            "method": method,
            "route": route,
            "path": scope.get("path", ""),
            "status": status_code,
            "duration_seconds": round(duration, 6),
            "client": (scope.get("client") or ("", 0))[0],
            "request_id": request_id,
        }
        key_id = state.get("api_key_id")  # set by service_common.auth, with API keys
        if key_id is not None:
            extra["api_key_id"] = key_id
        access_logger.log(
            logging.DEBUG if route in _QUIET_ROUTES and status_code < 400 else logging.INFO,
            "%s %s %d",
            method,
            route,
            status_code,
            extra=extra,
        )


class BodySizeLimitMiddleware:
    """413 for bodies over ``max_body_bytes``: by Content-Length up front, else while reading."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = _header(scope, "content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            state = scope.get("state") or {}
            request_id = state.get("request_id") or request_id_var.get() or uuid.uuid4().hex
            if not declared.isdigit():
                await _send_error(
                    send, request_id, 400, "bad_request", "invalid Content-Length header"
                )
            else:
                await _send_error(
                    send,
                    request_id,
                    413,
                    "payload_too_large",
                    f"request body larger than {limit} bytes",
                )
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes FastAPI's body reader unchanged → 413 body.
                    raise BodyTooLargeError(limit)
            return message

        await self.app(scope, counting_receive, send)


# --------------------------------------------------------------------------- wiring


def metrics_endpoint(
    registry: CollectorRegistry,
) -> Callable[[], Awaitable[Response]]:
    """``GET /metrics`` in the Prometheus text format."""

    async def metrics() -> Response:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Several uvicorn workers: one scrape must add up every worker's files.
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            return Response(generate_latest(merged), media_type=CONTENT_TYPE_LATEST)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics


def install_http_observability(
    app: FastAPI,
    *,
    service: str,
    enable_metrics: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    registry: CollectorRegistry = REGISTRY,
) -> None:
    """Wire request IDs, access logs, metrics, body limit, error handlers and ``/metrics``;
    and a server span per request when tracing is on (``service_common.telemetry``)."""
    app.state.service_name = service
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(Exception, handle_unexpected_exception)
    # add_middleware puts each new one outermost: the body limit runs inside the context.
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics.for_registry(registry))
    if telemetry.configure_tracing(service):
        from service_common.otel_http import TracingMiddleware

        app.add_middleware(TracingMiddleware)
    if enable_metrics:
        app.add_api_route(
            "/metrics",
            metrics_endpoint(registry),
            methods=["GET"],
            summary="Prometheus metrics",
            description="Process, HTTP and event metrics in the Prometheus text format.",
            response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
            tags=["operations"],
        )
