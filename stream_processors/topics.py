"""Create kmidi's Kafka topics from ``schemas.topics``: ``python -m stream_processors.topics``.

Topics must exist with their declared partition counts *before* faust starts: an
auto-created topic with another count than its table's changelog fails the worker with
``PartitionsMismatch``, and the local broker has auto-creation off anyway.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.errors import (  # type: ignore[import-untyped]
    KafkaConnectionError,
    KafkaError,
    for_code,
)
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from schemas.kafka_connection import KafkaConnection
from schemas.topics import TOPICS, TopicSpec
from service_common.kafka_failure import connection_failure_reason
from stream_processors.config import TopicReplication

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36


class TopicCreationError(RuntimeError):
    """The broker refused to create a topic for a reason other than "already exists"."""


async def ensure_topics(
    connection: KafkaConnection,
    specs: Iterable[TopicSpec] = TOPICS,
    *,
    replication: TopicReplication | None = None,
    timeout: float = 30,
) -> list[str]:
    """Create every topic of ``specs`` that does not exist yet; the names created.

    Idempotent: existing topics are left as they are (their partitions, replicas and
    configs are not changed). ``replication`` defaults to the ``TOPIC_*`` variables.
    Retries the connection for up to ``timeout`` seconds so it can run while the broker
    is still starting.
    """
    replication = replication or TopicReplication()
    wanted = {spec.name: spec for spec in specs}
    if not wanted:
        return []
    retrying = AsyncRetrying(
        stop=stop_after_delay(timeout),
        wait=wait_exponential(multiplier=0.2, max=2),
        retry=retry_if_exception_type((KafkaConnectionError, OSError, asyncio.TimeoutError)),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await _create_missing(connection, wanted, replication, request_timeout=timeout)
    raise AssertionError("unreachable")  # tenacity reraises on the last attempt


async def _create_missing(
    connection: KafkaConnection,
    wanted: dict[str, TopicSpec],
    replication: TopicReplication,
    *,
    request_timeout: float,
) -> list[str]:
    timeout_ms = int(max(request_timeout, 5) * 1000)
    admin = AIOKafkaAdminClient(
        **connection.aiokafka_kwargs(), client_id="kmidi-topics", request_timeout_ms=timeout_ms
    )
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [spec for name, spec in wanted.items() if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            _new_topics(missing, replication), timeout_ms=timeout_ms
        )
        created = _created_topics(response.topic_errors)
        await _wait_until_served(admin, created, timeout=request_timeout)
        for name in created:
            log.info("created topic %s", name)
        return sorted(created)
    finally:
        await admin.close()


def _new_topics(specs: list[TopicSpec], replication: TopicReplication) -> list[NewTopic]:
    """The CreateTopics requests for ``specs`` with ``replication``'s copies and configs."""
    return [
        NewTopic(
            name=spec.name,
            num_partitions=spec.partitions,
            replication_factor=replication.replication_factor,
            topic_configs={**spec.configs, **replication.topic_configs()},
        )
        for spec in specs
    ]


def _created_topics(topic_errors: Iterable[Sequence[Any]]) -> list[str]:
    """The topics a CreateTopics response says were created, in its order; a
    TopicCreationError when it refused one for a reason other than "already exists"."""
    created: list[str] = []
    failures: list[str] = []
    for entry in topic_errors:
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else ""
        if code == 0:
            created.append(name)
        elif code != _TOPIC_ALREADY_EXISTS:  # lost a race with another creator: fine
            failures.append(f"{name}: {for_code(code).__name__} {message or ''}".strip())
    if failures:
        raise TopicCreationError("could not create topics: " + "; ".join(failures))
    return created


async def _wait_until_served(
    admin: AIOKafkaAdminClient, topics: list[str], *, timeout: float
) -> None:
    """Until every partition of ``topics`` has a leader in the broker's metadata.

    CreateTopics returns once the controller committed the topics; the broker serves
    them a moment later, and a client that looks in between sees UNKNOWN_TOPIC.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = list(topics)
    while pending:
        described = await admin.describe_topics(pending)
        pending = [
            entry["topic"]
            for entry in described
            if entry["error_code"] != 0
            or not entry["partitions"]
            or any(p["leader"] < 0 for p in entry["partitions"])
        ]
        if not pending:
            return
        if loop.time() > deadline:
            raise TopicCreationError(f"created but not served within {timeout:g}s: {pending}")
        await asyncio.sleep(0.05)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stream_processors.topics", description="kmidi's Kafka topics."
    )
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create every kmidi topic (idempotent)")
    create.add_argument(
        "--bootstrap",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        or f"127.0.0.1:{os.environ.get('KAFKA_PORT') or 9092}",
        help="host:port[,…] (default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092); "
        "security settings come from KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*",
    )
    create.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)

    try:
        connection = KafkaConnection().with_bootstrap(args.bootstrap)
        replication = TopicReplication()
    except ValidationError as exc:
        print(f"invalid Kafka settings: {exc}", file=sys.stderr)
        return 2
    try:
        created = asyncio.run(
            ensure_topics(connection, TOPICS, replication=replication, timeout=args.timeout)
        )
    except (KafkaError, OSError, TopicCreationError) as exc:
        reason = asyncio.run(connection_failure_reason(connection, exc))
        print(f"could not create topics at {args.bootstrap}: {reason}", file=sys.stderr)
        return 1
    for spec in TOPICS:
        state = "created" if spec.name in created else "exists"
        print(f"{state:8} {spec.name} (partitions={spec.partitions})")
    if created:
        print(
            f"created with {replication.replication_factor} replica(s), "
            f"min.insync.replicas={replication.min_insync_replicas}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
