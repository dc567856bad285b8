"""The worker's Kafka producer: idempotent with acks=all, though faust asks for that only
inside exactly-once transactions (stream_processors/driver.py)."""

from __future__ import annotations

from typing import Any

from stream_processors.app import app


async def test_the_worker_producer_is_idempotent_with_acks_all() -> None:
    producer: Any = app.producer  # _new_producer is not on faust's ProducerT
    client = producer._new_producer()  # built, not started: no broker needed
    try:
        # aiokafka keeps a transaction manager exactly when idempotence is on.
        assert client._txn_manager is not None
        assert client._sender._acks == -1
    finally:
        await client.stop()
