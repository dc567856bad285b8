"""Real-broker factories in the style of quix-streams' test fixtures.

``topic_factory``, ``producer_factory`` and ``consumer_factory`` hand out started
clients against ``kafka_bootstrap`` and clean up after the test (topics deleted,
clients stopped). Every test in this folder is marked ``integration``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.admin.config_resource import (  # type: ignore[import-untyped]
    ConfigResource,
    ConfigResourceType,
)

from schemas.kafka_connection import KafkaConnection

TopicFactory = Callable[..., Awaitable[str]]
ProducerFactory = Callable[..., Awaitable[AIOKafkaProducer]]
ConsumerFactory = Callable[..., Awaitable[AIOKafkaConsumer]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = str(__file__).rsplit("/", 1)[0]
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.integration)


def unique_name(prefix: str) -> str:
    """A legal, unique topic or group name (Kafka allows ``[a-zA-Z0-9._-]``)."""
    slug = re.sub(r"[^a-zA-Z0-9._-]+", "-", prefix).strip("-")[:80]
    return f"{slug}-{uuid.uuid4().hex[:10]}"


STOP_TIMEOUT = 15.0
"""Bound on closing a test's Kafka client, so a failed test cannot hang in teardown."""


async def stop_within(client: AIOKafkaProducer | AIOKafkaConsumer, timeout: float) -> None:
    try:
        async with asyncio.timeout(timeout):
            await client.stop()
    except TimeoutError:
        warnings.warn(f"{type(client).__name__} did not stop within {timeout:g} s", stacklevel=1)


@pytest.fixture(scope="session")
def kafka_connection(kafka_bootstrap: str) -> KafkaConnection:
    """The session broker as the services' ``KafkaConnection`` (security from KAFKA_*)."""
    return KafkaConnection(bootstrap_servers=kafka_bootstrap)


@pytest.fixture(scope="session")
async def kafka_admin(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client for the whole session."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="kmidi-tests")
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def wait_for_topic(
    admin: AIOKafkaAdminClient, topic: str, partitions: int, *, timeout: float = 15
) -> None:
    """Until every partition of ``topic`` has a leader (creation is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        described = await admin.describe_topics([topic])
        parts = described[0]["partitions"] if described else []
        if (
            described
            and described[0]["error_code"] == 0
            and len(parts) == partitions
            and all(p["leader"] >= 0 for p in parts)
        ):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {topic} not ready: {described}")
        await asyncio.sleep(0.1)


async def topic_overrides(admin: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    """The configs set on ``topic`` itself, not inherited from the broker's defaults."""
    (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    (resource,) = response.resources
    assert resource[0] == 0, resource
    # DescribeConfigs v1+: config_source 1 is DYNAMIC_TOPIC_CONFIG (set on the topic).
    return {entry[0]: entry[1] for entry in resource[4] if entry[3] == 1}


@pytest.fixture
async def topic_factory(
    kafka_admin: AIOKafkaAdminClient, request: pytest.FixtureRequest
) -> AsyncIterator[TopicFactory]:
    """``await topic_factory(partitions=1, config={...}, name=None) -> str``; deleted after."""
    created: list[str] = []

    async def create(
        *, partitions: int = 1, config: dict[str, str] | None = None, name: str | None = None
    ) -> str:
        topic = name or unique_name(f"test-{request.node.name}")
        response = await kafka_admin.create_topics(
            [NewTopic(topic, partitions, 1, topic_configs=dict(config or {}))],
            timeout_ms=15_000,
        )
        for entry in response.topic_errors:
            if entry[1] != 0:
                raise RuntimeError(f"creating {topic} failed: {entry}")
        created.append(topic)
        await wait_for_topic(kafka_admin, topic, partitions)
        return topic

    yield create
    if created:
        with contextlib.suppress(Exception):
            await kafka_admin.delete_topics(created)


@pytest.fixture
async def producer_factory(kafka_bootstrap: str) -> AsyncIterator[ProducerFactory]:
    """``await producer_factory(**aiokafka_options) -> AIOKafkaProducer`` (started)."""
    producers: list[AIOKafkaProducer] = []

    async def create(**options: Any) -> AIOKafkaProducer:
        settings: dict[str, Any] = {
            "bootstrap_servers": kafka_bootstrap,
            "acks": "all",
            "enable_idempotence": True,
            **options,
        }
        producer = AIOKafkaProducer(**settings)
        await producer.start()
        producers.append(producer)
        return producer

    yield create
    for producer in producers:
        await stop_within(producer, STOP_TIMEOUT)


@pytest.fixture
async def consumer_factory(
    kafka_bootstrap: str, request: pytest.FixtureRequest
) -> AsyncIterator[ConsumerFactory]:
    """``await consumer_factory(*topics, **aiokafka_options) -> AIOKafkaConsumer``.

    Started, ``auto_offset_reset="earliest"`` and a unique group id unless given.
    """
    consumers: list[AIOKafkaConsumer] = []

    async def create(*topics: str, **options: Any) -> AIOKafkaConsumer:
        settings: dict[str, Any] = {
            "bootstrap_servers": kafka_bootstrap,
            "group_id": unique_name(f"test-{request.node.name}"),
            "auto_offset_reset": "earliest",
            "fetch_max_wait_ms": 100,
            **options,
        }
        consumer = AIOKafkaConsumer(*topics, **settings)
        await consumer.start()
        consumers.append(consumer)
        return consumer

    yield create
    for consumer in consumers:
        await stop_within(consumer, STOP_TIMEOUT)
