"""Publishing events from the routes: validation of wishes, headers, 503 on a silent broker."""

from __future__ import annotations

import logging

from pydantic import BaseModel

from kmidi.errors import TechnicalWishError
from kmidi.theory import validate_technical
from producer_api.core.config import Settings
from producer_api.kafka import EventPublisher, PublishError
from schemas.events import IntentSubmitted, dump_event
from schemas.headers import API_KEY_ID
from schemas.http import GenerateAccepted
from schemas.intent import Intent
from schemas.topics import INTENTS
from service_common import telemetry
from service_common.http import ApiError
from service_common.kafka_headers import build_headers

log = logging.getLogger(__name__)

BROKER_RETRY_AFTER_SECONDS = 2


def check_technical(intent: Intent) -> None:
    """422 with the wish's own code ("invalid_key", …) for a wish kmidi cannot honour."""
    try:
        validate_technical(intent.technical)
    except TechnicalWishError as exc:
        raise ApiError(422, exc.code, exc.message) from exc


async def publish_event(
    publisher: EventPublisher,
    *,
    topic: str,
    key: str,
    event: BaseModel,
    request_id: str,
    traceparent: str,
    api_key_id: str | None = None,
) -> None:
    """Publish and wait for the acknowledgement, or raise 503 ``broker_unavailable``.

    ``api_key_id`` (the submitting key, with API keys on) goes in the ``kmidi-api-key-id``
    header: the worker carries it to the result, the results service shows the result to
    that key only.
    """
    try:
        with telemetry.publish_span(topic):
            headers = build_headers(request_id, traceparent)
            if api_key_id is not None:
                headers.append((API_KEY_ID, api_key_id.encode()))
            headers = telemetry.with_current_traceparent(headers)
            await publisher.publish(topic, key, dump_event(event), headers)
    except PublishError as exc:
        log.warning(
            "event not published",
            extra={"topic": topic, "outcome": exc.outcome, "error": str(exc)},
        )
        raise ApiError(
            503,
            "broker_unavailable",
            f"the event could not be queued: {exc}; retry later",
            headers={"Retry-After": str(BROKER_RETRY_AFTER_SECONDS)},
        ) from exc


async def submit_intent(
    publisher: EventPublisher,
    settings: Settings,
    event: IntentSubmitted,
    *,
    traceparent: str,
    api_key_id: str | None = None,
) -> GenerateAccepted:
    """Publish an intent to ``kmidi.intents.v1`` keyed by request_id; the 202 body."""
    await publish_event(
        publisher,
        topic=INTENTS,
        key=event.request_id,
        event=event,
        request_id=event.request_id,
        traceparent=traceparent,
        api_key_id=api_key_id,
    )
    log.info("intent accepted", extra={"session_id": event.session_id})
    return GenerateAccepted(
        request_id=event.request_id,
        status_url=settings.status_url(event.request_id),
        result_url=settings.result_url(event.request_id),
    )
