"""Stopping background tasks within a bound, even when a cancellation gets lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
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


async def consume_with_reconnects(
    name: str,
    new_consumer: Callable[[], Any],
    *,
    assign: Callable[[Any], Awaitable[None]],
    consume: Callable[[Any], Awaitable[None]],
    on_down: Callable[[], None],
    start_timeout: float,
    first_delay: float = 0.2,
    max_delay: float = 5.0,
    stop_timeout: float = 5.0,
) -> None:
    """A Kafka consumer's life, forever: start it, ``assign`` it, ``consume`` with it.

    After any failure (a stray ``CancelledError`` from the client included) the consumer
    is stopped, ``on_down`` is called, and a new one is made after a delay that doubles up
    to ``max_delay`` and starts over once a consumer got as far as being assigned. Only a
    stop request of the calling task ends it.
    """
    delay = first_delay
    while True:
        consumer = new_consumer()
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can drop shutdown's cancel.
            async with asyncio.timeout(start_timeout):
                await consumer.start()
            await assign(consumer)
            delay = first_delay
            await consume(consumer)
        except (Exception, asyncio.CancelledError) as exc:
            if is_stop_request(exc):
                raise
            log.warning(
                "%s failed; reconnecting",
                name,
                extra={"error": repr(exc), "retry_in_seconds": delay},
            )
        finally:
            on_down()
            await stop_quietly(consumer, timeout=stop_timeout)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
