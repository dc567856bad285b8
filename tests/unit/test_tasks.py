"""Background tasks stop within their bound, even when a cancellation is swallowed."""

from __future__ import annotations

import asyncio
import contextlib
import time

from service_common.tasks import cancel_and_wait


async def swallows_first_cancel(stopped: list[str]) -> None:
    """What a 3.11 ``asyncio.wait_for`` race does: one cancel lost, the loop goes on."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(60)
    try:
        await asyncio.Event().wait()
    finally:
        stopped.append("cleaned up")


async def test_a_lost_cancellation_still_stops_the_task() -> None:
    stopped: list[str] = []
    task = asyncio.create_task(swallows_first_cancel(stopped))
    await asyncio.sleep(0)
    start = time.monotonic()
    assert await cancel_and_wait(task, timeout=5) is True
    assert task.done()
    assert stopped == ["cleaned up"]
    assert time.monotonic() - start < 5


async def test_a_task_that_refuses_to_stop_is_reported_not_awaited_forever() -> None:
    released = False

    async def stubborn() -> None:
        while not released:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    start = time.monotonic()
    assert await cancel_and_wait(task, timeout=0.3) is False
    assert time.monotonic() - start < 2
    assert not task.done()
    released = True
    assert await cancel_and_wait(task, timeout=2) is True


async def test_a_task_that_already_ended_is_fine() -> None:
    async def quick() -> None:
        return None

    task = asyncio.create_task(quick())
    await task
    assert await cancel_and_wait(task, timeout=1) is True
