"""``python -m stream_processors.results_service``: run the results service with uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from service_common.auth import listen_host_or_exit
from service_common.logging import configure_logging
from stream_processors.results_service.config import get_settings
from stream_processors.results_service.main import create_app
from stream_processors.results_service.routes import SERVICE

_GRACEFUL_SHUTDOWN_SECONDS = 5
"""Long-polls and event streams are cut after this on shutdown; clients retry elsewhere."""
_KEEP_ALIVE_SECONDS = 75
"""Longer than load balancers' idle timeouts (often 60 s): the server must not close a
connection the balancer is about to reuse, or that request fails."""


log = logging.getLogger(SERVICE)


def main() -> None:
    settings = get_settings()
    configure_logging(SERVICE, settings.log_level)
    host = listen_host_or_exit(
        "the kmidi results service",
        settings.results_host,
        keys_file=settings.kmidi_api_keys_file,
        allow_anonymous=settings.kmidi_allow_anonymous,
        host_variable="RESULTS_HOST",
        logger=log,
    )
    uvicorn.run(
        create_app(settings),
        host=host,
        port=settings.results_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
        timeout_keep_alive=_KEEP_ALIVE_SECONDS,
    )


if __name__ == "__main__":
    main()
