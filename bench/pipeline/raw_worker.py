"""The interrogation and generation stages in a plain aiokafka consumer-group loop, no
faust: for ``bench/bench_worker_engine.py`` only, to measure what faust costs a worker.

Not a production worker: it has no retries, no rebalance handling beyond aiokafka's own,
no conversation stage, no metrics server. The loop is the one proposed in
docs/performance.md: fetch a batch, run the same stage code for every record with sends
that only enqueue, await every acknowledgement, then commit the batch's offsets.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from schemas.topics import INTENTS, PLANS
from service_common.kafka_headers import KafkaHeaders, headers_to_dict
from service_common.logging import configure_logging
from stream_processors.publishing import Publisher
from stream_processors.records import InputRecord
from stream_processors.stages.generation import process_plan
from stream_processors.stages.interrogation import process_intent


async def run(bootstrap: str) -> None:
    configure_logging("kmidi-worker", "INFO")  # the same lines the faust worker writes
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=0,
        max_request_size=4 * 1024 * 1024,
    )
    consumer = AIOKafkaConsumer(
        INTENTS,
        PLANS,
        bootstrap_servers=bootstrap,
        group_id="kmidi-raw-worker",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=1000,
        max_partition_fetch_bytes=5 * 1024 * 1024,
    )
    await producer.start()
    await consumer.start()
    acks: list[asyncio.Future[object]] = []

    async def enqueue(topic: str, key: bytes | None, value: bytes, headers: KafkaHeaders) -> None:
        acks.append(await producer.send(topic, value, key=key, headers=headers))

    publisher = Publisher(enqueue, attempts=1, max_wait=0.1)
    handlers = {INTENTS: process_intent, PLANS: process_plan}
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)  # joins the group; nothing is written yet
    print("ready", file=sys.stderr, flush=True)  # stdout carries the JSON logs
    while True:
        batches = await consumer.getmany(timeout_ms=1000, max_records=256)
        for records in batches.values():
            for message in records:
                record = InputRecord(
                    message.topic,
                    message.partition,
                    message.offset,
                    message.key,
                    message.value or b"",
                    headers_to_dict(message.headers),
                    message.timestamp / 1000,
                )
                await handlers[message.topic](record, publisher)
        if acks:
            await asyncio.gather(*acks)
            acks.clear()
        if batches:
            await consumer.commit()


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1]))
