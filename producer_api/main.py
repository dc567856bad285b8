"""The ingress app: ``create_app(settings)`` and the module-level ``app`` for uvicorn."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from slowapi.errors import RateLimitExceeded

from producer_api.core.config import Settings, get_settings
from producer_api.idempotency import open_idempotency_store
from producer_api.idempotency_kafka import KafkaIdempotencyStore
from producer_api.kafka import EventPublisher
from producer_api.limits import build_limiter, handle_rate_limit_exceeded
from producer_api.replies import ReplyWaiter
from producer_api.routes import emotions, generate, health, interrogate, studio
from service_common.auth import (
    OPEN_PATHS,
    STUDIO_PATHS,
    STUDIO_PREFIXES,
    install_api_keys,
    load_keys,
    log_auth_mode,
)
from service_common.http import install_http_observability
from service_common.logging import configure_logging
from service_common.runtime import freeze_startup_objects

SERVICE = "producer_api"
log = logging.getLogger(__name__)

DESCRIPTION = """\
The kmidi ingress: submit an emotional intent, get a request ID and the results service's
URLs back once Kafka has the event. Every answer carries `X-Request-ID`; every error is
`{"request_id", "error": {"code", "message"}, "details"?}`. With API keys (a keys file),
every operation but the probes and `/metrics` needs `Authorization: Bearer <key>`.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    publisher: EventPublisher = app.state.publisher
    replies: ReplyWaiter = app.state.replies
    settings: Settings = app.state.settings
    shared = None
    if settings.idempotency_store == "kafka":
        shared = KafkaIdempotencyStore(settings, publisher)
        app.state.idempotency = shared
    else:
        app.state.idempotency = open_idempotency_store(settings)
    await publisher.start()
    replies.start()
    if shared is not None:
        shared.start()
    freeze_startup_objects()
    log_auth_mode(SERVICE, app.state.api_keys)
    log.info("producer_api started", extra={"kafka_connected": publisher.started})
    try:
        yield
    finally:
        await replies.stop()
        if shared is not None:
            await shared.stop()
        await publisher.stop()
        if app.state.idempotency is not None:
            app.state.idempotency.close()
        log.info("producer_api stopped")


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> FastAPI:
    """A fully wired ingress app; Kafka clients start with its lifespan."""
    settings = settings or get_settings()
    if configure_logs:
        configure_logging(SERVICE, settings.log_level)
    app = FastAPI(
        title="kmidi ingress",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.publisher = EventPublisher(settings)
    app.state.replies = ReplyWaiter(settings)
    app.state.limiter = build_limiter(settings)
    app.state.emotions = emotions.load_catalogue()
    app.add_exception_handler(RateLimitExceeded, handle_rate_limit_exceeded)
    for module in (generate, interrogate, emotions, health):
        app.include_router(module.router)
    studio.install(app)
    # Before CORS and the request-ID layer, so that both wrap the key check.
    install_api_keys(
        app,
        load_keys(settings.kmidi_api_keys_file),
        open_paths=OPEN_PATHS | STUDIO_PATHS,
        open_prefixes=STUDIO_PREFIXES,
    )
    origins = settings.cors_origin_list
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        # Browsers reject credentials with a wildcard origin; only allow them for a list.
        allow_credentials="*" not in origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID", "Location", "Retry-After", "Idempotent-Replayed"],
    )
    # Last, so it is outermost: CORS preflights and 413s carry the request ID too.
    install_http_observability(
        app,
        service=SERVICE,
        enable_metrics=settings.enable_metrics,
        max_body_bytes=settings.max_body_bytes,
    )
    return app


app = create_app()
