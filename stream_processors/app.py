"""The faust app: topics, the three stage agents, the session table and the lag timer.

Run with ``python -m stream_processors`` or ``faust -A stream_processors.app worker -l info
--web-port N``. Topics are raw bytes on both sides: the stages parse JSON themselves, so a
message that is not JSON reaches them and can be dead-lettered instead of crashing faust's
decoder.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Collection
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import faust

from schemas.topics import INTENTS, INTERROGATIONS, PLANS, TOPICS, TopicSpec
from service_common import telemetry
from service_common.kafka_headers import KafkaHeaders
from service_common.logging import configure_logging
from service_common.runtime import freeze_startup_objects
from stream_processors import metrics
from stream_processors.config import WorkerSettings, get_settings
from stream_processors.driver import make_transport
from stream_processors.health import add_health_pages
from stream_processors.publishing import Publisher
from stream_processors.records import InputRecord
from stream_processors.stages.conversation import process_turn
from stream_processors.stages.generation import process_plan
from stream_processors.stages.interrogation import process_intent
from stream_processors.topics import ensure_topics

log = logging.getLogger(__name__)

SERVICE_NAME = "kmidi-worker"
SOURCE_TOPICS = (INTENTS, PLANS, INTERROGATIONS)
SESSIONS_TABLE = "conversations"
"""Its changelog topic is ``<WORKER_ID>-conversations-changelog``."""


def _spec(name: str) -> TopicSpec:
    return next(spec for spec in TOPICS if spec.name == name)


class KmidiApp(faust.App):
    """faust App with kmidi's transport (short fetch wait), logging, metrics and topics."""

    def __init__(self, settings: WorkerSettings, *, service: str = SERVICE_NAME) -> None:
        self.settings = settings
        self.service_name = service
        """The ``service`` of its log lines and its traces' ``service.name``."""
        super().__init__(
            settings.worker_id,
            **settings.kafka.faust_settings(),
            store="memory://",  # no RocksDB here; tables are rebuilt from their changelog
            datadir=str(settings.worker_data_dir / settings.worker_id),
            processing_guarantee="at_least_once",
            topic_partitions=settings.topic_partitions,
            topic_replication_factor=settings.replication.replication_factor,
            topic_allow_declare=True,  # faust must create the table changelog topic
            consumer_auto_offset_reset="earliest",
            # Real Kafka rejects session timeouts below group.min.session.timeout.ms (6 s).
            broker_session_timeout=10.0,
            broker_heartbeat_interval=3.0,
            broker_rebalance_timeout=settings.broker_rebalance_timeout,
            broker_commit_interval=1.0,
            producer_acks=-1,
            producer_linger_ms=0,
            **_compression(settings),
            producer_max_request_size=4 * 1024 * 1024,  # kmidi.results.v1 allows 4 MiB
            stream_buffer_maxsize=1024,
            web_enabled=settings.faust_web_enabled,
            web_port=settings.faust_web_port,
            web_bind=settings.faust_web_host,
            web_in_thread=False,
            # Used by faust's own logging set-up, so even its first lines are JSON.
            logging_config=json_logging_config(settings.log_level, service),
        )

    def record_span(self, record: InputRecord) -> AbstractContextManager[object]:
        """The trace span of one record's processing by this app's consumer group."""
        return telemetry.consume_span(
            record.topic,
            record.partition,
            record.offset,
            record.headers,
            consumer_group=self.conf.id,
        )

    async def process_each(
        self, stream: Any, handle: Callable[[InputRecord], Awaitable[None]]
    ) -> None:
        """An agent's loop: every record of ``stream`` to ``handle``, inside its span."""
        async for event in stream.events():
            record = InputRecord.from_event(event)
            with self.record_span(record):
                await handle(record)

    def new_publisher(self) -> Publisher:
        """A publisher sending with this app's producer, retrying as the settings say."""

        async def send_and_wait(
            topic: str, key: bytes | None, value: bytes, headers: KafkaHeaders
        ) -> None:
            await self.producer.send_and_wait(topic, key, value, None, None, headers)

        return Publisher(
            send_and_wait,
            attempts=self.settings.transient_retry_attempts,
            max_wait=self.settings.transient_retry_max_wait,
        )

    def _new_transport(self) -> Any:
        transport_class = make_transport(self.settings.fetch_max_wait_ms)
        return transport_class(self.conf.broker_consumer, self)

    async def on_first_start(self) -> None:
        # Again, after faust's worker set-up: at level warn and above it adds a spinner
        # handler and sets the root logger to DEBUG, which costs CPU on every record.
        _configure_json_logging(self.settings.log_level, self.service_name)
        telemetry.configure_tracing(self.service_name)
        await asyncio.to_thread(Path(self.conf.datadir).mkdir, parents=True, exist_ok=True)
        metrics.start_metrics_server(
            self.settings.worker_metrics_port, self.settings.worker_metrics_host
        )
        if self.settings.ensure_topics_on_start:
            created = await ensure_topics(
                self.settings.kafka, TOPICS, replication=self.settings.replication
            )
            if created:
                log.info("created topics %s", ", ".join(created))
        log.info(
            "worker starting",
            extra={
                "app_id": self.conf.id,
                "bootstrap": self.settings.kafka.bootstrap_servers,
                "security_protocol": self.settings.kafka.security_protocol,
                "metrics_port": self.settings.worker_metrics_port,
                "fetch_max_wait_ms": self.settings.fetch_max_wait_ms,
            },
        )
        await super().on_first_start()
        freeze_startup_objects()


def _compression(settings: WorkerSettings) -> dict[str, Any]:
    """faust's ``producer_compression_type`` for the settings; nothing for "none" (faust
    turns an explicit None into a value aiokafka rejects)."""
    if settings.worker_compression_type == "none":
        return {}
    return {"producer_compression_type": settings.worker_compression_type}


def json_logging_config(level: str, service: str = SERVICE_NAME) -> dict[str, Any]:
    """``logging.config.dictConfig`` equivalent of ``configure_logging`` for faust's worker."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "service_common.logging.JsonFormatter", "service": service}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"level": level.upper(), "handlers": ["stdout"]},
    }


def _configure_json_logging(level: str, service: str) -> None:
    configure_logging(service, level)
    # The faust CLI has swapped sys.stdout for a proxy that logs what is printed; a handler
    # writing to that proxy would feed its own output back into logging.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is not sys.__stdout__:
            handler.setStream(sys.__stdout__)


settings = get_settings()
app = KmidiApp(settings)
add_health_pages(app)


def _raw_topic(name: str) -> Any:
    return app.topic(
        name,
        partitions=_spec(name).partitions,
        internal=False,  # created by ensure_topics with their specs, never by faust
        key_serializer="raw",
        value_serializer="raw",
    )


intents_topic = _raw_topic(INTENTS)
plans_topic = _raw_topic(PLANS)
interrogations_topic = _raw_topic(INTERROGATIONS)

sessions = app.Table(
    SESSIONS_TABLE,
    default=None,
    # Equal to the source topic's count, or faust fails with PartitionsMismatch.
    partitions=_spec(INTERROGATIONS).partitions,
    extra_topic_configs=settings.replication.topic_configs(),
    help="Conversation state per session_id (ConversationState.to_dict() and last reply).",
)


publisher = app.new_publisher()


@app.agent(intents_topic, name="interrogation")
async def interrogation_agent(stream: Any) -> None:
    """kmidi.intents.v1 → kmidi.plans.v1 (or a failed result / dead letter)."""
    await app.process_each(stream, lambda r: process_intent(r, publisher))


@app.agent(plans_topic, name="generation")
async def generation_agent(stream: Any) -> None:
    """kmidi.plans.v1 → kmidi.results.v1 (or a dead letter + failed result)."""
    await app.process_each(stream, lambda r: process_plan(r, publisher))


@app.agent(interrogations_topic, name="conversation")
async def conversation_agent(stream: Any) -> None:
    """kmidi.interrogations.v1 → kmidi.interrogation-replies.v1, state in ``sessions``."""
    await app.process_each(stream, lambda r: process_turn(r, publisher, sessions))


def track_consumer_lag(app: faust.App, topics: Collection[str], *, interval: float) -> None:
    """Every ``interval`` seconds, kmidi_consumer_lag = highwater − committed offset for each
    partition of ``topics`` assigned to ``app``'s consumer."""
    labels: set[tuple[str, str]] = set()

    @app.timer(interval=interval)  # type: ignore[untyped-decorator]
    async def refresh_consumer_lag() -> None:
        consumer: Any = app.consumer  # _committed_offset is not on faust's ConsumerT
        assigned = {tp for tp in consumer.assignment() if tp.topic in topics}
        for topic, partition in labels - {(tp.topic, str(tp.partition)) for tp in assigned}:
            metrics.CONSUMER_LAG.remove(topic, partition)  # moved to another worker
            labels.discard((topic, partition))
        for tp in assigned:
            try:
                highwater = consumer.highwater(tp)
                # faust tracks what it committed; before its first commit, fall back to the
                # fetch position (the committed offset it resumed from).
                committed = consumer._committed_offset.get(tp)
                if committed is None:
                    committed = await consumer.position(tp)
            except Exception as exc:  # a rebalance may revoke tp between the two calls
                log.debug("lag of %s unavailable: %r", tp, exc)
                continue
            if highwater is None or committed is None:
                continue
            lag = max(0, highwater - committed)
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(lag)
            labels.add((tp.topic, str(tp.partition)))


track_consumer_lag(app, SOURCE_TOPICS, interval=settings.consumer_lag_interval)
