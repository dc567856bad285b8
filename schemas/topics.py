"""Every Kafka topic kmidi uses, with partitions and configs: the one place they are defined."""

from __future__ import annotations

from dataclasses import dataclass, field

INTENTS = "kmidi.intents.v1"
PLANS = "kmidi.plans.v1"
RESULTS = "kmidi.results.v1"
AUDIO_REQUESTS = "kmidi.audio-requests.v1"
INTERROGATIONS = "kmidi.interrogations.v1"
INTERROGATION_REPLIES = "kmidi.interrogation-replies.v1"
DEADLETTER = "kmidi.deadletter.v1"
IDEMPOTENCY = "kmidi.idempotency.v1"

DEFAULT_PARTITIONS = 6
"""Enough to spread over a few workers; a small cluster can raise it later (never lower)."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """How a topic is created: partitions, replication and topic-level configs."""

    name: str
    partitions: int = DEFAULT_PARTITIONS
    replication_factor: int = 1
    configs: dict[str, str] = field(default_factory=dict)
    description: str = ""


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        INTENTS,
        configs={"retention.ms": str(7 * 24 * 3600 * 1000)},
        description="IntentSubmitted, keyed by request_id; written by the ingress and others.",
    ),
    TopicSpec(
        PLANS,
        configs={"retention.ms": str(7 * 24 * 3600 * 1000)},
        description="PlanReady (affect + musical plan), keyed by request_id.",
    ),
    TopicSpec(
        RESULTS,
        configs={
            "cleanup.policy": "compact",
            "min.cleanable.dirty.ratio": "0.1",
            "segment.ms": str(3600 * 1000),
            "max.message.bytes": str(4 * 1024 * 1024),
            # A tombstone (DELETE /v1/results/{id}) must outlive the request's intent and
            # plan (7 days) so that a replaying view never brings a deleted request back.
            "delete.retention.ms": str(7 * 24 * 3600 * 1000),
        },
        description="GenerationResult keyed by request_id; compacted, the downstream contract.",
    ),
    TopicSpec(
        AUDIO_REQUESTS,
        # Only the results that asked for audio, so the audio stage reads one record per
        # audio request instead of every result (docs/performance.md, audio requests).
        configs={
            "retention.ms": str(7 * 24 * 3600 * 1000),
            "max.message.bytes": str(4 * 1024 * 1024),
        },
        description="GenerationResult copies awaiting audio, keyed by request_id; written "
        "after the result itself, read by the audio stage.",
    ),
    TopicSpec(
        INTERROGATIONS,
        configs={"retention.ms": str(24 * 3600 * 1000)},
        description="Conversation turns from people, keyed by session_id.",
    ),
    TopicSpec(
        INTERROGATION_REPLIES,
        configs={"retention.ms": str(24 * 3600 * 1000)},
        description="The interrogation stage's replies, keyed by session_id.",
    ),
    TopicSpec(
        DEADLETTER,
        partitions=1,
        configs={"retention.ms": str(30 * 24 * 3600 * 1000)},
        description="Messages no stage could process: original bytes, error and stage.",
    ),
    TopicSpec(
        IDEMPOTENCY,
        # Not compacted: compaction keeps a key's last record, which could be a losing
        # claim's, and every replica must see the winning claim to agree on the holder.
        configs={"cleanup.policy": "delete", "retention.ms": str(7 * 24 * 3600 * 1000)},
        description="Idempotency-Key claims of the ingress replicas (claimed, completed, "
        "released), keyed by the scoped key; every ingress replays it into its claims.",
    ),
)

TOPIC_NAMES: tuple[str, ...] = tuple(spec.name for spec in TOPICS)
