"""``python -m stream_processors``: run one worker with settings from the environment."""

from __future__ import annotations

import faust

from stream_processors.app import app, settings


def main() -> None:
    """Start the worker; returns only through SystemExit when it stops."""
    faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
