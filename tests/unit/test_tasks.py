"""Background tasks stop within their bound, even when a cancellation is swallowed; a
consumer loop replaces a failed client until it is asked to stop."""

from __future__ import annotations

import asyncio
import contextlib
import time

from service_common.tasks import (
    cancel_and_wait,
    consume_with_reconnects,
    is_stop_request,
    stop_quietly,
)


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


async def classify(awaitable_of: asyncio.Future[None]) -> bool:
    """Await ``awaitable_of``; whether the CancelledError it ends with is a stop request."""
    try:
        await awaitable_of
    except asyncio.CancelledError as exc:
        return is_stop_request(exc)
    raise AssertionError("not cancelled")


async def test_a_future_cancelled_by_a_library_is_no_stop_request() -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(classify(future))
    await asyncio.sleep(0)
    future.cancel()  # what a client library does to its own pending request
    assert await task is False


async def test_cancelling_the_task_is_a_stop_request() -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(classify(future))
    await asyncio.sleep(0)
    task.cancel()
    assert await task is True


class StrayCancelClient:
    """A client whose stop() ends the way aiokafka's did after a broker kill."""

    async def stop(self) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.cancel()
        await future


class HangingClient:
    async def stop(self) -> None:
        await asyncio.Event().wait()


async def test_stop_quietly_survives_a_stray_cancellation() -> None:
    await stop_quietly(StrayCancelClient(), timeout=1)  # returns: the loop may retry


async def test_stop_quietly_gives_up_on_a_hanging_client() -> None:
    start = time.monotonic()
    await stop_quietly(HangingClient(), timeout=0.2)
    assert time.monotonic() - start < 2


async def test_stop_quietly_passes_a_stop_request_on() -> None:
    task = asyncio.create_task(stop_quietly(HangingClient(), timeout=30))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait({task})
    assert task.cancelled()


class _Client:
    """Stands in for an AIOKafkaConsumer's start/stop only."""

    def __init__(self, log: list[str], number: int) -> None:
        self.log, self.number = log, number

    async def start(self) -> None:
        self.log.append(f"start {self.number}")

    async def stop(self) -> None:
        self.log.append(f"stop {self.number}")


async def test_a_failed_consumer_is_stopped_and_replaced_until_the_task_is_cancelled() -> None:
    log: list[str] = []
    made: list[_Client] = []
    settled = asyncio.Event()

    def new_consumer() -> _Client:
        made.append(_Client(log, len(made) + 1))
        return made[-1]

    async def assign(client: _Client) -> None:
        if client.number == 1:
            raise ConnectionError("broker down")  # fails before it is assigned
        log.append(f"assigned {client.number}")

    async def consume(client: _Client) -> None:
        if client.number == 2:
            # aiokafka cancels its own futures while a broker restarts: not a stop request.
            raise asyncio.CancelledError
        settled.set()
        await asyncio.Event().wait()  # the third one runs until the task is cancelled

    task = asyncio.create_task(
        consume_with_reconnects(
            "test consumer",
            new_consumer,
            assign=assign,
            consume=consume,
            on_down=lambda: log.append("down"),
            start_timeout=1.0,
            first_delay=0.01,
            max_delay=0.02,
        )
    )
    await asyncio.wait_for(settled.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert log == [
        "start 1", "down", "stop 1",
        "start 2", "assigned 2", "down", "stop 2",
        "start 3", "assigned 3", "down", "stop 3",
    ]  # fmt: skip
