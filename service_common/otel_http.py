"""A server span per HTTP request; installed by ``install_http_observability`` only when
tracing is on, so the services without tracing do not even have it in their stack."""

from __future__ import annotations

from opentelemetry.trace import StatusCode
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.headers import TRACEPARENT
from service_common import telemetry
from service_common.http import route_template


class TracingMiddleware:
    """``<METHOD> <route template>`` server spans, children of the caller's ``traceparent``.

    Outermost, so the span covers every other layer and the routes' publish spans are its
    children; it reads the request ID the request-context middleware left in the scope.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", "GET"))
        status_code = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
            await send(message)

        parent = Headers(scope=scope).get(TRACEPARENT)
        with telemetry.span(method, kind="server", traceparent=parent) as span:
            try:
                await self.app(scope, receive, send_with_status)
            finally:
                if span is not None:
                    route = route_template(scope)
                    span.update_name(f"{method} {route}")
                    span.set_attributes(
                        {
                            "http.request.method": method,
                            "http.route": route,
                            "url.path": str(scope.get("path", "")),
                            "http.response.status_code": status_code,
                            "kmidi.request_id": str(
                                (scope.get("state") or {}).get("request_id", "")
                            ),
                        }
                    )
                    if status_code >= 500:
                        span.set_status(StatusCode.ERROR)
