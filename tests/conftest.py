"""Fixtures shared by every test layer; each starts only what a test asks for."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Confluent Platform 7.9 ships Apache Kafka 3.9, the version the embedded broker runs.
KAFKA_CONTAINER_IMAGE = "confluentinc/cp-kafka:7.9.0"


def _docker_answers() -> bool:
    """A Docker engine answers a ping within a few seconds (the CLI alone is not enough)."""
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real Kafka broker for the session: ``host:port[,…]``.

    In order: ``$KAFKA_BOOTSTRAP_SERVERS``; a testcontainers Kafka when a Docker engine
    answers; else the embedded broker (``kmidi.cli.broker.EmbeddedKafka``) on free
    loopback ports with a temporary data dir, stopped at session end.
    """
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if configured:
        yield configured
        return

    if _docker_answers():
        try:
            from testcontainers.community.kafka import KafkaContainer
        except ImportError:  # testcontainers < 4.9 kept it at the top level
            from testcontainers.kafka import KafkaContainer

        with KafkaContainer(KAFKA_CONTAINER_IMAGE).with_kraft() as container:
            yield container.get_bootstrap_server()
        return

    from kmidi.cli.broker import BrokerStartError, EmbeddedKafka, KafkaUnavailableError

    broker = EmbeddedKafka(heap="512m")
    try:
        broker.start()
    except (KafkaUnavailableError, BrokerStartError) as exc:
        # No broker means the real-broker tests cannot say anything: fail, never skip.
        pytest.fail(f"no Kafka broker for the tests: {exc}", pytrace=False)
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session", autouse=True)
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Stages started by tests (in process or as workers) keep their files here, never in
    the user's ``~/.cache/kmidi``; ``kmidi up`` stacks set their own ``KMIDI_DATA_DIR``."""
    path = str(tmp_path_factory.mktemp("artifacts"))
    previous = os.environ.get("ARTIFACTS_DIR")
    os.environ["ARTIFACTS_DIR"] = path
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop("ARTIFACTS_DIR", None)
        else:
            os.environ["ARTIFACTS_DIR"] = previous
