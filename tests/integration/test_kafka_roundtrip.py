"""Produce to and consume from a real broker; topic creation; a non-Python client reads us."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType  # type: ignore[import-untyped]
from aiokafka.errors import KafkaConnectionError  # type: ignore[import-untyped]
from aiokafka.structs import ConsumerRecord  # type: ignore[import-untyped]

from kmidi.cli.broker import free_port
from schemas.kafka_connection import KafkaConnection
from schemas.topics import RESULTS, TOPICS, TopicSpec
from stream_processors.config import TopicReplication
from stream_processors.topics import TopicCreationError, ensure_topics
from tests.integration.conftest import (
    ConsumerFactory,
    ProducerFactory,
    TopicFactory,
    topic_overrides,
)

pytestmark = pytest.mark.integration

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def kafka_headers(request_id: str) -> list[tuple[str, bytes]]:
    return [
        ("x-request-id", request_id.encode()),
        ("traceparent", TRACEPARENT.encode()),
        ("content-type", b"application/json"),
    ]


async def consume(
    consumer: AIOKafkaConsumer, count: int, *, timeout: float = 30
) -> list[ConsumerRecord[bytes, bytes]]:
    """Exactly ``count`` records, or fail after ``timeout`` seconds."""
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout
    while len(records) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"got {len(records)} of {count} records within {timeout}s")
        batches = await consumer.getmany(timeout_ms=500)
        for batch in batches.values():
            records.extend(batch)
    return records


async def topic_configs(admin: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    configs: dict[str, str] = {}
    for response in responses:
        for resource in response.resources:
            error_code, _message, _type, _name, entries = resource[:5]
            assert error_code == 0, resource
            configs.update({entry[0]: entry[1] for entry in entries})
    return configs


async def partition_count(admin: AIOKafkaAdminClient, topic: str) -> int:
    (described,) = await admin.describe_topics([topic])
    assert described["error_code"] == 0, described
    return len(described["partitions"])


async def test_keys_values_and_headers_survive_the_broker(
    topic_factory: TopicFactory,
    producer_factory: ProducerFactory,
    consumer_factory: ConsumerFactory,
) -> None:
    topic = await topic_factory(partitions=3)
    producer = await producer_factory()
    sent = []
    for n in range(30):
        request_id = f"req-{n % 5}"  # keys repeat: they must stick to one partition
        value = json.dumps({"schema": "kmidi.intent.v1", "request_id": request_id, "n": n})
        await producer.send_and_wait(
            topic, value=value.encode(), key=request_id.encode(), headers=kafka_headers(request_id)
        )
        sent.append((request_id.encode(), value.encode(), kafka_headers(request_id)))

    consumer = await consumer_factory(topic)
    records = await consume(consumer, len(sent))

    received = [(r.key, r.value, [(k, bytes(v)) for k, v in r.headers]) for r in records]
    assert sorted(received) == sorted(sent)
    partitions_by_key: dict[bytes | None, set[int]] = defaultdict(set)
    for record in records:
        partitions_by_key[record.key].add(record.partition)
    assert all(len(partitions) == 1 for partitions in partitions_by_key.values())
    # Order is kept per key (per partition).
    for key in partitions_by_key:
        numbers = [json.loads(r.value)["n"] for r in records if r.key == key]
        assert numbers == sorted(numbers)


async def test_ensure_topics_creates_every_kmidi_topic_once(
    kafka_connection: KafkaConnection, kafka_admin: AIOKafkaAdminClient
) -> None:
    first = await ensure_topics(kafka_connection, TOPICS, timeout=30)
    second = await ensure_topics(kafka_connection, TOPICS, timeout=30)

    assert second == []
    assert set(first) <= {spec.name for spec in TOPICS}
    existing = set(await kafka_admin.list_topics())
    for spec in TOPICS:
        assert spec.name in existing
        assert await partition_count(kafka_admin, spec.name) == spec.partitions
    results = await topic_configs(kafka_admin, RESULTS)
    assert results["cleanup.policy"] == "compact"
    assert results["max.message.bytes"] == str(4 * 1024 * 1024)


async def test_ensure_topics_returns_only_what_it_created(
    kafka_connection: KafkaConnection, kafka_admin: AIOKafkaAdminClient
) -> None:
    spec = TopicSpec(
        f"test-ensure-{uuid.uuid4().hex[:10]}", partitions=2, configs={"cleanup.policy": "compact"}
    )
    try:
        assert await ensure_topics(kafka_connection, [spec]) == [spec.name]
        assert await ensure_topics(kafka_connection, [spec]) == []
        assert await partition_count(kafka_admin, spec.name) == 2
        assert (await topic_configs(kafka_admin, spec.name))["cleanup.policy"] == "compact"
    finally:
        await kafka_admin.delete_topics([spec.name])


async def test_ensure_topics_creates_topics_with_the_replication_settings(
    kafka_connection: KafkaConnection, kafka_admin: AIOKafkaAdminClient
) -> None:
    spec = TopicSpec(f"test-replication-{uuid.uuid4().hex[:10]}", partitions=2)
    replication = TopicReplication(replication_factor=1, min_insync_replicas=1)
    try:
        assert await ensure_topics(kafka_connection, [spec], replication=replication)
        assert (await topic_overrides(kafka_admin, spec.name))["min.insync.replicas"] == "1"
        (described,) = await kafka_admin.describe_topics([spec.name])
        assert [len(p["replicas"]) for p in described["partitions"]] == [1, 1]
    finally:
        await kafka_admin.delete_topics([spec.name])


async def test_more_replicas_than_brokers_is_refused_by_name(
    kafka_connection: KafkaConnection, kafka_admin: AIOKafkaAdminClient
) -> None:
    spec = TopicSpec(f"test-replication-{uuid.uuid4().hex[:10]}", partitions=1)
    replication = TopicReplication(replication_factor=16, min_insync_replicas=2)
    with pytest.raises(TopicCreationError, match="InvalidReplicationFactorError"):
        await ensure_topics(kafka_connection, [spec], replication=replication)
    assert spec.name not in await kafka_admin.list_topics()


async def test_ensure_topics_gives_up_after_its_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(KafkaConnectionError):
        await ensure_topics(
            KafkaConnection(bootstrap_servers=f"127.0.0.1:{free_port()}"), timeout=2
        )
    assert time.monotonic() - started < 15


async def test_kcat_reads_what_aiokafka_produced(
    kafka_bootstrap: str, topic_factory: TopicFactory, producer_factory: ProducerFactory
) -> None:
    kcat = shutil.which("kcat")
    if kcat is None:
        pytest.skip("kcat is not installed (apt-get install kcat)")
    topic = await topic_factory(partitions=1)
    producer = await producer_factory()
    value = b'{"schema": "kmidi.intent.v1", "request_id": "kcat-1"}'
    await producer.send_and_wait(topic, value=value, key=b"kcat-1", headers=kafka_headers("kcat-1"))

    process = await asyncio.create_subprocess_exec(
        kcat, "-b", kafka_bootstrap, "-C", "-t", topic, "-o", "beginning", "-c", "1", "-e",
        "-q", "-f", "%k|%h|%s\n",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)

    assert process.returncode == 0, stderr.decode()
    key, headers, payload = stdout.decode().rstrip("\n").split("|", 2)
    assert key == "kcat-1"
    assert headers == (
        f"x-request-id=kcat-1,traceparent={TRACEPARENT},content-type=application/json"
    )
    assert payload.encode() == value
