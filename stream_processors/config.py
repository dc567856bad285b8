"""Worker settings from the environment (pydantic-settings); one instance per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.kafka_connection import KafkaConnection
from schemas.topics import DEFAULT_PARTITIONS


class TopicReplication(BaseSettings):
    """Copies kept of every kmidi topic and table changelog (``TOPIC_*`` variables).

    1 and 1 on a single broker; on a cluster of three or more, 3 and 2: a write with
    acks=all then survives the loss of one broker, and producing stops (rather than
    losing data) only when two are down.
    """

    model_config = SettingsConfigDict(env_prefix="TOPIC_", extra="ignore", frozen=True)

    replication_factor: Annotated[int, Field(ge=1, le=16)] = Field(
        default=1, description="Replicas of each partition of the topics kmidi creates."
    )
    min_insync_replicas: Annotated[int, Field(ge=1, le=16)] = Field(
        default=1,
        description="min.insync.replicas of those topics: replicas that must have a write "
        "before acks=all succeeds.",
    )

    @model_validator(mode="after")
    def _attainable(self) -> TopicReplication:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"TOPIC_MIN_INSYNC_REPLICAS={self.min_insync_replicas} exceeds "
                f"TOPIC_REPLICATION_FACTOR={self.replication_factor}: every acks=all write "
                "would fail"
            )
        return self

    def topic_configs(self) -> dict[str, str]:
        """The topic-level configs these settings add to every topic."""
        return {"min.insync.replicas": str(self.min_insync_replicas)}


class WorkerSettings(BaseSettings):
    """How a stream-processing worker connects, listens and retries.

    Every field reads the environment variable of the same name in upper case, e.g.
    ``KAFKA_BOOTSTRAP_SERVERS`` or ``WORKER_METRICS_PORT``.
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    kafka: KafkaConnection = Field(
        default_factory=KafkaConnection,
        description="KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*.",
    )
    replication: TopicReplication = Field(
        default_factory=TopicReplication,
        description="TOPIC_REPLICATION_FACTOR and TOPIC_MIN_INSYNC_REPLICAS.",
    )
    worker_id: str = Field(
        default="kmidi-worker",
        validation_alias=AliasChoices("worker_id", "faust_app_id"),
        description="faust app id = Kafka consumer group = prefix of changelog topics.",
    )
    worker_metrics_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        default=9100,
        description="Port of the Prometheus /metrics HTTP server; 0 turns it off.",
    )
    worker_metrics_host: str = "0.0.0.0"
    faust_web_enabled: bool = True
    faust_web_port: Annotated[int, Field(ge=1, le=65535)] = Field(
        default=6066, description="faust's own web server (health, table views)."
    )
    faust_web_host: str = "127.0.0.1"
    log_level: str = Field(default="INFO", description="Level of the JSON logs on stdout.")
    worker_data_dir: Path = Field(
        default=Path("/tmp/kmidi-worker"),
        description="faust datadir; tables use the memory store and are rebuilt from "
        "their changelog on start, so nothing here must survive a restart.",
    )
    topic_partitions: Annotated[int, Field(ge=1)] = Field(
        default=DEFAULT_PARTITIONS,
        description="Partitions of faust-created topics (table changelogs); must equal the "
        "source topics' count from schemas.topics.",
    )
    transient_retry_attempts: Annotated[int, Field(ge=1)] = Field(
        default=8, description="Attempts to publish one record before the worker stops."
    )
    transient_retry_max_wait: Annotated[float, Field(gt=0)] = Field(
        default=5.0, description="Longest back-off between two publish attempts, seconds."
    )
    fetch_max_wait_ms: Annotated[int, Field(ge=0, le=30_000)] = Field(
        default=1000,
        description="Longest wait of a fetch for new data (aiokafka's default); replaces "
        "faust's hard-coded 1500 ms. Kafka answers a waiting fetch as soon as data arrives, "
        "so this bounds idle polling, not latency (docs/worker.md has the figures).",
    )
    worker_compression_type: Literal["lz4", "zstd", "gzip", "none"] = Field(
        default="none",
        description="Compression of the records the worker writes (built into Kafka). Not "
        "PRODUCER_COMPRESSION_TYPE: faust reads that variable itself.",
    )
    broker_rebalance_timeout: Annotated[float, Field(ge=6, le=600)] = Field(
        default=20.0,
        description="How long Kafka waits for every member to rejoin during a rebalance. "
        "A worker killed while it was rejoining holds the whole group up this long "
        "(faust's default is 60 s); the stages finish a message in milliseconds, so 20 s "
        "is ample for a live member.",
    )
    consumer_lag_interval: Annotated[float, Field(gt=0)] = Field(
        default=5.0, description="Seconds between two refreshes of kmidi_consumer_lag."
    )
    ensure_topics_on_start: bool = Field(
        default=True,
        description="Create the kmidi topics (schemas.topics) before the consumer starts. "
        "In production set false and run `kmidi topics create` (or the topics job) once "
        "per deployment: a worker then needs no right to create kmidi's topics.",
    )


@lru_cache(maxsize=1)
def get_settings() -> WorkerSettings:
    """The process-wide settings, read from the environment once."""
    return WorkerSettings()
