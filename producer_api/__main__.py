"""``python -m producer_api``: serve the ingress with uvicorn using the seed's variables."""

from __future__ import annotations

import uvicorn

from producer_api.core.config import get_settings
from service_common.logging import configure_logging


def main() -> None:
    settings = get_settings()
    configure_logging("producer_api", settings.log_level)
    uvicorn.run(
        "producer_api.main:app",
        host=settings.api_host,
        port=settings.api_port,
        # uvicorn ignores workers with reload; reload is for development only.
        workers=1 if settings.reload else settings.api_workers,
        reload=settings.reload,
        log_level=settings.log_level.lower(),
        # Our JSON logging and access log replace uvicorn's.
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
