"""A 3-node Kafka cluster loses a node (kill -9) while 2,000 intents flow through the stack.

The cluster is ``kmidi.cli.broker.KafkaCluster`` (what ``kmidi broker start --brokers 3``
runs); the stack is ``kmidi up`` against it with 3 copies of every topic and
``min.insync.replicas=2``. Intents are written straight to ``kmidi.intents.v1``, as other
systems do, at a steady pace; once a fifth of the results are in, the active controller
(a partition leader too) is killed with SIGKILL and started again with its data a few
seconds later. Then:

- every request ID has a completed result, and the copies of a result written more than
  once (at-least-once) carry the same MIDI bytes;
- results never stop arriving for longer than STALL_LIMIT (as a consumer sees them);
- the restarted node catches up: every partition of every topic has 3 in-sync replicas.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.admin.config_resource import (  # type: ignore[import-untyped]
    ConfigResource,
    ConfigResourceType,
)

from kmidi.cli.broker import BrokerStartError, KafkaCluster, KafkaUnavailableError
from schemas.topics import INTENTS, RESULTS, TOPICS
from tests.e2e.stack_process import RunningStack, start_stack
from tests.integration.stream_helpers import headers_for, intent_event

pytestmark = pytest.mark.e2e

TOTAL = 2000
SEND_RATE = 50.0
"""Intents a second: the producer is still writing when the node dies (about 40 s)."""
KILL_AFTER_RESULTS = TOTAL // 5
DOWN_FOR = 5.0
"""Seconds between the kill and the restart."""
STALL_LIMIT = 15.0
COMPLETE_WITHIN = 180.0
"""Bound on the whole run from the first intent to the last result."""
CATCH_UP_WITHIN = 60.0
TEXTS = ("I am feeling grief", "we won the championship!", "so anxious tonight", "calm lake")
WORKER_GROUP = "kmidi-worker"


@dataclass
class ResultWatch:
    """What a plain consumer of ``kmidi.results.v1`` saw for this test's request IDs."""

    wanted: set[str]
    arrivals: list[float] = field(default_factory=list)
    """Monotonic time of every result record of ours, in arrival order."""
    digests: dict[str, list[str]] = field(default_factory=dict)
    """Request ID → sha256 of the MIDI bytes of each of its result records."""
    statuses: dict[str, str] = field(default_factory=dict)

    def completed(self) -> set[str]:
        return {rid for rid, status in self.statuses.items() if status == "completed"}

    def add(self, key: str, value: dict[str, Any], when: float) -> None:
        self.arrivals.append(when)
        self.statuses[key] = value["status"]
        midi = value.get("midi_base64") or ""
        self.digests.setdefault(key, []).append(hashlib.sha256(midi.encode()).hexdigest())

    def longest_gap(self) -> tuple[float, float]:
        """(longest time between two consecutive arrivals, when it started)."""
        gaps = [(b - a, a) for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)]
        return max(gaps, default=(0.0, 0.0))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KafkaCluster]:
    kafka = KafkaCluster(brokers=3, data_dir=tmp_path / "kafka")
    try:
        kafka.start()
    except (KafkaUnavailableError, BrokerStartError) as exc:
        pytest.fail(f"no 3-node Kafka cluster for the test: {exc}", pytrace=False)
    try:
        yield kafka
    finally:
        kafka.stop()


def test_a_killed_broker_loses_nothing_and_stalls_results_under_15_s(
    cluster: KafkaCluster, tmp_path: Path
) -> None:
    (tmp_path / "stack").mkdir()
    stack = start_stack(
        tmp_path / "stack",
        bootstrap=cluster.bootstrap_servers,
        extra_env={
            "TOPIC_REPLICATION_FACTOR": "3",
            "TOPIC_MIN_INSYNC_REPLICAS": "2",
            "RATE_LIMIT_ENABLED": "false",
        },
    )
    try:
        print(f"\n3-node cluster and stack ready ({stack.started_in_seconds:.1f} s for the stack)")
        asyncio.run(run_fault(cluster, stack))
    finally:
        stack.stop()


async def run_fault(cluster: KafkaCluster, stack: RunningStack) -> None:
    bootstrap = cluster.bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="fault-test")
    await admin.start()
    try:
        await assert_three_copies(admin)
        victim = await choose_victim(cluster, admin)
        ids = [f"fault-{uuid.uuid4().hex[:8]}-{n:04d}" for n in range(TOTAL)]
        watch = ResultWatch(wanted=set(ids))
        consumer = await results_consumer_at_end(bootstrap)
        stop_watching = asyncio.Event()
        watcher = asyncio.create_task(follow_results(consumer, watch, stop_watching))
        started = time.monotonic()
        try:
            producer = AIOKafkaProducer(
                bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
            )
            await producer.start()
            try:
                progress = SendProgress()
                sender = asyncio.create_task(send_paced(producer, ids, progress))
                await wait_for(
                    lambda: len(watch.completed()) >= KILL_AFTER_RESULTS,
                    timeout=COMPLETE_WITHIN,
                    what=f"{KILL_AFTER_RESULTS} results before the kill",
                    stack=stack,
                )
                sent_at_kill = progress.sent
                killed_at = time.monotonic()
                assert cluster.kill(victim) == -9
                print(
                    f"killed node {victim} (SIGKILL) {killed_at - started:.1f} s in: "
                    f"{len(watch.completed())} results in, {sent_at_kill} of {TOTAL} intents "
                    "handed to the producer"
                )
                await asyncio.sleep(DOWN_FOR)
                await asyncio.to_thread(cluster.restart, victim)
                restarted_at = time.monotonic()
                print(f"node {victim} back after {restarted_at - killed_at:.1f} s")
                await asyncio.wait_for(sender, timeout=COMPLETE_WITHIN)
                print(f"all {TOTAL} intents acknowledged {time.monotonic() - started:.1f} s in")
            finally:
                await producer.stop()

            catch_up = asyncio.create_task(wait_until_in_sync(admin, restarted_at))
            try:
                await wait_for(
                    lambda: watch.completed() >= watch.wanted,
                    timeout=max(COMPLETE_WITHIN - (time.monotonic() - started), 1.0),
                    what=f"all {TOTAL} results",
                    stack=stack,
                    missing=lambda: sorted(watch.wanted - watch.completed()),
                )
                finished = time.monotonic()
                in_sync_after = await catch_up
            finally:
                catch_up.cancel()  # only does something when the results did not come
        finally:
            stop_watching.set()
            await watcher
            await consumer.stop()
    finally:
        await admin.close()

    duplicates = {rid: d for rid, d in watch.digests.items() if len(d) > 1}
    differing = sorted(rid for rid, d in duplicates.items() if len(set(d)) > 1)
    gap, gap_start = watch.longest_gap()
    print(
        f"fault test: {len(watch.completed())} of {TOTAL} completed in "
        f"{finished - started:.1f} s; {len(watch.arrivals)} result records, "
        f"{len(duplicates)} request IDs written more than once ({len(differing)} differing); "
        f"longest gap between results {gap:.1f} s, starting {gap_start - killed_at:+.1f} s "
        f"from the kill; every partition back to 3 in-sync replicas {in_sync_after:.1f} s "
        "after the restart"
    )
    assert not differing, f"duplicates with different MIDI: {differing[:10]}"
    assert gap <= STALL_LIMIT, f"results stalled for {gap:.1f} s (limit {STALL_LIMIT:g} s)"
    await assert_results_service_has_all(stack, ids)


async def assert_three_copies(admin: AIOKafkaAdminClient) -> None:
    """Every topic (kmidi's, the worker's changelog and faust's leader topic, the
    consumer offsets): 3 replicas and min.insync.replicas=2."""
    described = await admin.describe_topics()
    names = sorted(topic["topic"] for topic in described)
    changelog = f"{WORKER_GROUP}-conversations-changelog"
    assert {spec.name for spec in TOPICS} | {changelog, "__consumer_offsets"} <= set(names)
    for topic in described:
        assert topic["error_code"] == 0, topic
        for partition in topic["partitions"]:
            assert len(partition["replicas"]) == 3, (topic["topic"], partition)
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    )
    for response in responses:
        for resource in response.resources:
            configs = {entry[0]: entry[1] for entry in resource[4]}
            assert configs["min.insync.replicas"] == "2", (resource[2], configs)


async def choose_victim(cluster: KafkaCluster, admin: AIOKafkaAdminClient) -> int:
    """The active controller when it leads an intents partition (it does on a fresh
    cluster, each node leads about a third), else the leader of intents partition 0."""
    (intents,) = await admin.describe_topics([INTENTS])
    leaders: dict[int, int] = {p["partition"]: p["leader"] for p in intents["partitions"]}
    controller = cluster.controller_leader()
    victim = controller if controller is not None and controller in leaders.values() else leaders[0]
    led = sorted(p for p, leader in leaders.items() if leader == victim)
    role = "the active controller" if victim == controller else f"controller is {controller}"
    print(f"victim: node {victim} ({role}), leader of {INTENTS} partitions {led}")
    return victim


async def results_consumer_at_end(bootstrap: str) -> AIOKafkaConsumer:
    """A group-less consumer of every results partition, positioned at the end now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=100)
    await consumer.start()
    spec = next(spec for spec in TOPICS if spec.name == RESULTS)
    partitions = [TopicPartition(RESULTS, n) for n in range(spec.partitions)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for partition in partitions:
        await consumer.position(partition)  # resolve the end offset before intents go out
    return consumer


async def follow_results(
    consumer: AIOKafkaConsumer, watch: ResultWatch, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=200)
        now = time.monotonic()
        for records in batches.values():
            for record in records:
                key = (record.key or b"").decode()
                if key in watch.wanted and record.value:
                    watch.add(key, json.loads(record.value), now)


@dataclass
class SendProgress:
    sent: int = 0


async def send_paced(producer: AIOKafkaProducer, ids: list[str], progress: SendProgress) -> None:
    """Write the intents at SEND_RATE a second, keyed by request ID; return once all
    are acknowledged (acks=all)."""
    pending = []
    step = 25
    started = time.monotonic()
    for first in range(0, len(ids), step):
        for index in range(first, min(first + step, len(ids))):
            rid = ids[index]
            text = TEXTS[index % len(TEXTS)]
            pending.append(
                await producer.send(
                    INTENTS, intent_event(rid, text), key=rid.encode(), headers=headers_for(rid)
                )
            )
            progress.sent += 1
        delay = started + (first + step) / SEND_RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.gather(*pending)


async def wait_for(
    condition: Any,
    *,
    timeout: float,
    what: str,
    stack: RunningStack,
    missing: Any = None,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            detail = ""
            if missing is not None:
                lost = missing()
                detail = f"{len(lost)} without a completed result, e.g. {lost[:5]}\n"
            raise AssertionError(
                f"no {what} within {timeout:.0f} s\n{detail}"
                f"worker group on {INTENTS}:\n{stack.describe_group(WORKER_GROUP, INTENTS)}\n"
                f"--- kmidi up log ---\n{stack.log_tail(60)}"
            )
        await asyncio.sleep(0.2)


async def wait_until_in_sync(admin: AIOKafkaAdminClient, since: float) -> float:
    """Seconds from ``since`` until every partition of every topic has all its replicas
    in sync again; AssertionError naming the lagging partitions after CATCH_UP_WITHIN."""
    while True:
        described = await admin.describe_topics()
        lagging = [
            f"{topic['topic']}[{p['partition']}] isr={p['isr']}"
            for topic in described
            for p in topic["partitions"]
            if len(p["isr"]) < len(p["replicas"])
        ]
        if not lagging:
            return time.monotonic() - since
        if time.monotonic() - since > CATCH_UP_WITHIN:
            raise AssertionError(
                f"the restarted node did not catch up within {CATCH_UP_WITHIN:g} s: "
                f"{len(lagging)} partitions short, e.g. {lagging[:8]}"
            )
        await asyncio.sleep(0.5)


async def assert_results_service_has_all(stack: RunningStack, ids: list[str]) -> None:
    """The results service's view, fed by a consumer that lived through the kill too."""
    semaphore = asyncio.Semaphore(16)
    async with httpx.AsyncClient(timeout=30) as client:

        async def status(request_id: str) -> str:
            async with semaphore:
                response = await client.get(f"{stack.results_url}/v1/results/{request_id}")
            return str(response.json().get("status")) if response.status_code == 200 else ""

        statuses = await asyncio.gather(*(status(rid) for rid in ids))
    not_completed = [rid for rid, state in zip(ids, statuses, strict=True) if state != "completed"]
    assert not not_completed, (
        f"the results service lacks {len(not_completed)} of {len(ids)}: {not_completed[:5]}"
    )
