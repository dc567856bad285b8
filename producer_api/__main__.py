"""``python -m producer_api``: serve the ingress with uvicorn using the seed's variables."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

import uvicorn

from producer_api.core.config import Settings, get_settings
from service_common.auth import listen_host_or_exit
from service_common.logging import configure_logging

log = logging.getLogger("producer_api")


def main() -> None:
    settings = get_settings()
    configure_logging("producer_api", settings.log_level)
    host = listen_host_or_exit(
        "the kmidi ingress",
        settings.api_host,
        keys_file=settings.kmidi_api_keys_file,
        allow_anonymous=settings.kmidi_allow_anonymous,
        host_variable="API_HOST",
        logger=log,
    )
    workers = 1 if settings.reload else settings.api_workers
    metrics_dir: str | None = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker counts in its own process; prometheus-client's multiprocess mode
        # lets whichever worker answers /metrics report the sum. Workers inherit the env.
        metrics_dir = tempfile.mkdtemp(prefix="kmidi-prometheus-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        _serve(settings, host, workers)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve(settings: Settings, host: str, workers: int) -> None:
    uvicorn.run(
        "producer_api.main:app",
        host=host,
        port=settings.api_port,
        # uvicorn ignores workers with reload; reload is for development only.
        workers=workers,
        reload=settings.reload,
        log_level=settings.log_level.lower(),
        # Our JSON logging and access log replace uvicorn's.
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
