"""The worker's health pages, served by faust's own web server (``FAUST_WEB_PORT``).

faust's web server runs on the worker's event loop, so an answer from ``/live`` shows the
loop is turning; prometheus-client's ``/metrics`` runs on a thread of its own and keeps
answering while the loop is stuck. ``/ready`` answers 503 while the worker rebalances or
rebuilds its tables, when it would not process what it is given.
"""

from __future__ import annotations

from typing import Any, cast

import faust
from faust.tables.manager import TableManager
from faust.web import Request, Response, View


def readiness(*, rebalancing: bool, in_recovery: bool, recovered: bool) -> dict[str, Any]:
    """The ``/ready`` document: ``ready`` is true only between rebalances, tables rebuilt."""
    return {
        "ready": recovered and not rebalancing and not in_recovery,
        "rebalancing": rebalancing,
        "recovering": in_recovery or not recovered,
    }


def add_health_pages(app: faust.App) -> None:
    """Register ``GET /live`` and ``GET /ready`` on ``app``'s web server."""

    @app.page("/live")
    async def live(web: View, request: Request) -> Response:
        return web.json({"live": True})

    @app.page("/ready")
    async def ready(web: View, request: Request) -> Response:
        state = readiness(
            rebalancing=bool(app.rebalancing),
            in_recovery=bool(app.in_recovery),
            recovered=cast(TableManager, app.tables).recovery.completed.is_set(),
        )
        return web.json(state, status=200 if state["ready"] else 503)
