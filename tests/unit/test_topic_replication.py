"""TopicReplication: TOPIC_REPLICATION_FACTOR and TOPIC_MIN_INSYNC_REPLICAS, checked at start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stream_processors.config import TopicReplication, WorkerSettings


def test_a_single_broker_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOPIC_REPLICATION_FACTOR", raising=False)
    monkeypatch.delenv("TOPIC_MIN_INSYNC_REPLICAS", raising=False)
    replication = WorkerSettings().replication
    assert (replication.replication_factor, replication.min_insync_replicas) == (1, 1)
    assert replication.topic_configs() == {"min.insync.replicas": "1"}


def test_a_cluster_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPIC_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("TOPIC_MIN_INSYNC_REPLICAS", "2")
    replication = WorkerSettings().replication
    assert replication.replication_factor == 3
    assert replication.topic_configs() == {"min.insync.replicas": "2"}


def test_more_insync_replicas_than_replicas_is_refused() -> None:
    with pytest.raises(ValidationError, match="TOPIC_MIN_INSYNC_REPLICAS=3 exceeds"):
        TopicReplication(replication_factor=2, min_insync_replicas=3)
