"""Stopping background tasks within a bound, even when a cancellation gets lost."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)

_RECANCEL_INTERVAL_SECONDS = 1.0


async def cancel_and_wait(task: asyncio.Task[None], *, timeout: float) -> bool:
    """Cancel ``task`` and wait for it to end; ``False`` if it outlived ``timeout``.

    A single ``cancel()`` is not enough: on Python 3.11 ``asyncio.wait_for`` (also inside
    libraries) drops a cancellation that lands as its inner awaitable finishes, and the
    task carries on. Cancelling again until it ends makes shutdown deterministic.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not task.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.warning("background task did not stop in time", extra={"task": task.get_name()})
            return False
        task.cancel()
        await asyncio.wait({task}, timeout=min(_RECANCEL_INTERVAL_SECONDS, remaining))
    if not task.cancelled() and task.exception() is not None:
        log.warning(
            "background task ended with an error",
            extra={"task": task.get_name(), "error": repr(task.exception())},
        )
    return True
