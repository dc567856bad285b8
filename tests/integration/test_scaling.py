"""Two workers in one consumer group share the partitions, and rebalances lose nothing.

Both workers are real processes with the same faust app id (one group, one changelog).
A second worker joins while a batch is in flight, then the first one leaves (graceful
stop) while the next batch is in flight: two rebalances, each with the slow
committed-offset lookup that makes every reassignment meet the seek race.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

from schemas.topics import INTENTS, INTERROGATION_REPLIES, INTERROGATIONS, PLANS, RESULTS
from tests.integration.conftest import ConsumerFactory, ProducerFactory
from tests.integration.stream_helpers import (
    SLOW_SEEK_ENV,
    SLOW_SEEK_MODULE,
    IntentBatch,
    commit_group_at_end,
    say_turn,
    watch,
)
from tests.integration.worker_process import WorkerProcess

PARTITIONS = 6


@pytest.fixture
def two_workers(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WorkerProcess, WorkerProcess]]:
    app_id = f"kmidi-scale-test-{uuid.uuid4().hex[:8]}"
    workers = []
    for name in ("a", "b"):
        base = tmp_path_factory.mktemp(f"worker-{name}")
        workers.append(
            WorkerProcess(
                bootstrap=kafka_bootstrap,
                app_id=app_id,
                log_path=base / "worker.log",
                data_dir=base / "data",
                entry_module=SLOW_SEEK_MODULE,
                env=SLOW_SEEK_ENV,
            )
        )
    first, second = workers
    try:
        yield first, second
    finally:
        for worker in workers:
            worker.stop()


def intents_handled(worker: WorkerProcess, ids: set[str]) -> set[str]:
    """The request IDs of ``ids`` whose intent this worker logged as received."""
    return {
        entry["request_id"]
        for entry in worker.json_lines()
        if entry.get("message") == "intent received" and entry.get("request_id") in ids
    }


@pytest.mark.timeout(420)  # three bounded waits of 90 s, two worker starts, one stop
async def test_a_worker_joining_and_one_leaving_lose_nothing(
    two_workers: tuple[WorkerProcess, WorkerProcess],
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
    kafka_admin: AIOKafkaAdminClient,
) -> None:
    first, second = two_workers
    batch = uuid.uuid4().hex[:8]
    ids = [f"t-scale-{batch}-{n:04d}" for n in range(800)]
    wanted = {rid.encode() for rid in ids}
    producer = await producer_factory(linger_ms=5)
    await commit_group_at_end(
        consumer_factory, first.app_id, [INTENTS, PLANS, INTERROGATIONS], PARTITIONS
    )
    await asyncio.to_thread(first.start)
    # Conversation state in every changelog partition (sessions hash across them), so each
    # reassignment takes faust's table recovery path, where the seek race lives.
    replies = await watch(consumer_factory, INTERROGATION_REPLIES)
    for n in range(4 * PARTITIONS):
        await say_turn(producer, replies, f"s-scale-{batch}-{n}", "hello", 1)
    intents = IntentBatch(
        producer, await watch(consumer_factory, RESULTS, PLANS), kafka_admin, first
    )

    # A second member joins while the first 500 are in flight.
    await intents.send(ids[:500])
    await intents.wait_completed(100, timeout=90)
    assert len(intents.completed()) < 500, "the join must land in the middle of the batch"
    await asyncio.to_thread(second.start)

    # The first member leaves while the next 300 are in flight.
    await intents.send(ids[500:])
    await intents.wait_completed(550, timeout=90)
    assert len(intents.completed()) < 800, "the leave must land in the middle of the batch"
    assert first.stop() != -signal.SIGKILL, "a graceful stop, not a kill after the timeout"

    await intents.wait_completed(800, timeout=90)
    assert intents.completed() == wanted
    intents.assert_duplicates_identical()

    # Both members did a share of the work.
    everyone = set(ids)
    by_first, by_second = intents_handled(first, everyone), intents_handled(second, everyone)
    assert by_first, "the first worker handled none of the batch"
    assert by_second, "the second worker handled none of the batch"
    assert by_first | by_second == everyone

    # The group ends with every intents and plans partition committed to its end.
    ends = [TopicPartition(topic, p) for topic in (INTENTS, PLANS) for p in range(PARTITIONS)]
    consumer = await consumer_factory()
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        committed = await kafka_admin.list_consumer_group_offsets(first.app_id)
        end_offsets = await consumer.end_offsets(ends)
        behind = {
            tp: (committed[tp].offset if tp in committed else None, end)
            for tp, end in end_offsets.items()
            if tp not in committed or committed[tp].offset < end
        }
        if not behind:
            break
        assert asyncio.get_running_loop().time() < deadline, f"not committed to the end: {behind}"
        await asyncio.sleep(1)
