"""The results service's FastAPI application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from schemas.headers import HTTP_REQUEST_ID
from service_common.auth import install_api_keys, load_keys, log_auth_mode
from service_common.http import install_http_observability
from service_common.runtime import freeze_startup_objects
from service_common.tasks import cancel_and_wait
from stream_processors.artifacts import expire_forever, get_artifact_settings, get_artifact_store
from stream_processors.results_service import metrics
from stream_processors.results_service.config import Settings, get_settings
from stream_processors.results_service.consumer import ResultsConsumer
from stream_processors.results_service.deletion import TombstoneWriter
from stream_processors.results_service.routes import SERVICE, VERSION, router
from stream_processors.results_service.store import ResultsView


def new_view(settings: Settings) -> ResultsView:
    """The view bounded as ``settings`` say."""
    return ResultsView(
        max_entries=settings.results_max_entries, max_bytes=settings.results_max_bytes
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """An app whose lifespan runs the Kafka consumer that feeds its view."""
    settings = settings or get_settings()
    view = new_view(settings)
    consumer = ResultsConsumer(
        view,
        connection=settings.kafka,
        retry_max_seconds=settings.consumer_retry_max_seconds,
        probe_interval_seconds=settings.broker_probe_interval_seconds,
        busy_pause_seconds=settings.results_busy_pause_ms / 1000,
    )
    app = FastAPI(
        title="kmidi results service",
        version=VERSION,
        description="Status and finished MIDI of kmidi generation requests.",
        lifespan=_lifespan(view, consumer),
    )
    app.state.settings = settings
    app.state.view = view
    app.state.consumer = consumer
    app.state.store = get_artifact_store()
    app.state.tombstones = TombstoneWriter(settings.kafka)
    _install_middleware(app, settings)
    app.include_router(router)
    return app


def _lifespan(
    view: ResultsView, consumer: ResultsConsumer
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: it starts the consumer and the artifacts' expiry, and stops them
    and the app's tombstone writer at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Not awaited to completion here: the server must answer /live and a 503 /ready
        # while the view catches up, instead of refusing connections.
        consumer.start()
        expiry = asyncio.create_task(
            expire_forever(app.state.store, get_artifact_settings()), name="artifact-expiry"
        )
        metrics.WAITERS.set_function(view.waiter_count)
        freeze_startup_objects()
        log_auth_mode(SERVICE, app.state.api_keys)
        try:
            yield
        finally:
            await cancel_and_wait(expiry, timeout=5.0)
            await app.state.tombstones.stop()
            await consumer.stop()

    return lifespan


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    """The API-key check, CORS when ``settings`` name origins, and the request-ID and
    metrics layers."""
    # Before CORS and the request-ID layer, so that both wrap the key check.
    install_api_keys(app, load_keys(settings.kmidi_api_keys_file))
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD"],
            allow_headers=["*"],
            expose_headers=[HTTP_REQUEST_ID, "ETag", "Content-Disposition"],
        )
    install_http_observability(app, service=SERVICE, enable_metrics=settings.enable_metrics)


app = create_app()
"""The module-level app for ``uvicorn stream_processors.results_service.main:app``."""
