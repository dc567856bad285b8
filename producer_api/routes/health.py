"""``/health``, ``/ready`` and ``/live``: probes for people, load balancers and Kubernetes."""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from producer_api.deps import PublisherDep, ReplyWaiterDep, RequestIdDep
from producer_api.openapi import ERROR_RESPONSES
from schemas.http import ErrorBody, HealthReport
from service_common.http import error_response

SERVICE = "producer_api"
STARTED_AT = time.monotonic()

router = APIRouter(tags=["operations"])


def _version() -> str:
    try:
        return version("kmidi")
    except PackageNotFoundError:
        return "0.0.0"


async def _checks(
    publisher: PublisherDep, replies: ReplyWaiterDep, request: Request
) -> dict[str, bool]:
    checks = {
        "producer_started": publisher.started,
        "broker_reachable": await publisher.broker_reachable(),
        "reply_consumer_running": replies.running,
    }
    if request.app.state.settings.idempotency_store == "kafka":
        # IDEMPOTENCY_STORE=kafka: claims are only right once the topic is replayed.
        checks["idempotency_caught_up"] = request.app.state.idempotency.ready
    return checks


@router.get(
    "/health",
    summary="Health report",
    description="200 while the process lives; `status` is `degraded` when a check fails.",
    response_model=HealthReport,
)
async def health(
    publisher: PublisherDep, replies: ReplyWaiterDep, request: Request
) -> HealthReport:
    checks = await _checks(publisher, replies, request)
    return HealthReport(
        status="ok" if all(checks.values()) else "degraded",
        service=SERVICE,
        version=_version(),
        uptime_seconds=round(time.monotonic() - STARTED_AT, 3),
        checks=checks,
    )


_NOT_READY: dict[str, Any] = {
    **ERROR_RESPONSES[503],
    "description": "Not connected to Kafka, or the broker did not answer a metadata request.",
    "model": ErrorBody,
}


@router.get(
    "/ready",
    summary="Readiness probe",
    description=(
        "200 while the Kafka producer is connected and the broker answered a metadata "
        "request within READY_MAX_AGE_SECONDS (and, with IDEMPOTENCY_STORE=kafka, the "
        "Idempotency-Key claims are caught up with their topic); else 503 (`not_ready`)."
    ),
    response_model=HealthReport,
    responses={503: _NOT_READY},
)
async def ready(
    publisher: PublisherDep, replies: ReplyWaiterDep, request_id: RequestIdDep, request: Request
) -> JSONResponse | HealthReport:
    checks = await _checks(publisher, replies, request)
    if (
        checks["producer_started"]
        and checks["broker_reachable"]
        and checks.get("idempotency_caught_up", True)
    ):
        return HealthReport(
            status="ok" if all(checks.values()) else "degraded",
            service=SERVICE,
            version=_version(),
            uptime_seconds=round(time.monotonic() - STARTED_AT, 3),
            checks=checks,
        )
    reason = f": {publisher.last_error}" if publisher.last_error else ""
    message = f"not connected to Kafka{reason}"
    if checks["producer_started"] and checks["broker_reachable"]:
        message = "Idempotency-Key claims not caught up with kmidi.idempotency.v1 yet"
    return error_response(
        request_id,
        503,
        "not_ready",
        message,
        details=[{"check": name, "ok": ok} for name, ok in checks.items()],
        headers={"Retry-After": "2"},
    )


@router.get("/live", summary="Liveness probe", description="200 while the process serves HTTP.")
async def live() -> dict[str, str]:
    return {"status": "ok"}
