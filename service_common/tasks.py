"""Stopping background tasks within a bound, even when a cancellation gets lost."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)

_RECANCEL_INTERVAL_SECONDS = 1.0


def is_stop_request(exc: BaseException) -> bool:
    """Whether ``exc`` is a cancellation of the running task, i.e. somebody stopping it.

    A ``CancelledError`` also comes out of awaiting a future that a library cancelled for
    its own reasons (aiokafka's clients do while their broker restarts): nobody asked the
    task to stop, so a reconnect loop must treat it as a failure and retry.
    """
    task = asyncio.current_task()
    return isinstance(exc, asyncio.CancelledError) and task is not None and task.cancelling() > 0


async def stop_quietly(client: Any, *, timeout: float) -> None:
    """``await client.stop()`` on a failed Kafka client, within ``timeout``.

    Its errors (a stray ``CancelledError`` included) are logged, never raised: the caller
    is about to retry with a new client. Only a stop request of the caller passes.
    """
    try:
        async with asyncio.timeout(timeout):
            await client.stop()
    except (Exception, asyncio.CancelledError) as exc:
        if is_stop_request(exc):
            raise
        log.info("a failed Kafka client did not close cleanly", extra={"error": repr(exc)})


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
