"""A request's propagated headers (the submitting API key's id) travel from the record a
stage consumes to the records it publishes: ``telemetry.consume_span`` makes them current,
``telemetry.with_current_traceparent`` adds them, with tracing off and on. The worker
itself is checked in tests/integration/test_api_keys.py (a real worker, a real broker)."""

from __future__ import annotations

import asyncio
import os
import textwrap

from schemas.headers import API_KEY_ID, REQUEST_ID, TRACEPARENT
from service_common import telemetry
from service_common.kafka_headers import build_headers, headers_to_dict
from tests.python_child import child_report

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def consumed(key_id: str | None) -> dict[str, str]:
    headers = {REQUEST_ID: "r1", TRACEPARENT: PARENT}
    return headers if key_id is None else {**headers, API_KEY_ID: key_id}


def published() -> dict[str, str]:
    return headers_to_dict(telemetry.with_current_traceparent(build_headers("r1", PARENT)))


def test_what_is_published_while_a_record_is_processed_carries_its_key() -> None:
    assert not telemetry.tracing_enabled()
    with telemetry.consume_span("t", 0, 1, consumed("aaaaaaaaaaaa"), consumer_group="g"):
        assert published()[API_KEY_ID] == "aaaaaaaaaaaa"
    assert API_KEY_ID not in published(), "nothing carried once the record is done"
    with telemetry.consume_span("t", 0, 2, consumed(None), consumer_group="g"):
        assert API_KEY_ID not in published()


def test_raw_kafka_headers_are_read_too_and_nothing_is_doubled() -> None:
    raw = [(REQUEST_ID, b"r1"), (API_KEY_ID, b"bbbbbbbbbbbb")]
    with telemetry.consume_span("t", 0, 1, raw, consumer_group=None):
        own = [*build_headers("r1", PARENT), (API_KEY_ID, b"cccccccccccc")]
        sent = telemetry.with_current_traceparent(own)
    assert [value for name, value in sent if name == API_KEY_ID] == [b"cccccccccccc"]


async def test_records_processed_at_once_keep_their_own_keys() -> None:
    # The worker overlaps records of independent requests, each in a task of its own.
    async def handle(key_id: str) -> str:
        with telemetry.consume_span("t", 0, 1, consumed(key_id), consumer_group="g"):
            await asyncio.sleep(0.01)
            inner = asyncio.create_task(asyncio.sleep(0, result=published()[API_KEY_ID]))
            return await inner

    keys = [f"{n:012x}" for n in range(20)]
    assert await asyncio.gather(*(handle(key) for key in keys)) == keys


_WITH_TRACING = textwrap.dedent(
    """
    import json
    from service_common import telemetry
    from service_common.kafka_headers import build_headers, headers_to_dict
    assert telemetry.configure_tracing("probe")
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    record = {"traceparent": parent, "kmidi-api-key-id": "aaaaaaaaaaaa"}
    with telemetry.consume_span("t", 0, 1, record, consumer_group="g") as span:
        with telemetry.publish_span("out"):
            sent = headers_to_dict(telemetry.with_current_traceparent(build_headers("r", parent)))
    print(json.dumps({"span": span is not None, "sent": sent}))
    """
)


def test_with_tracing_on_the_key_travels_beside_the_trace() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        # Nothing listens there: spans are queued, never exported, within the test's time.
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_BSP_SCHEDULE_DELAY": "600000",
    }
    report = child_report(_WITH_TRACING, env=env, what="publishing with tracing on")
    assert report["span"] is True
    sent = report["sent"]
    assert sent[API_KEY_ID] == "aaaaaaaaaaaa"
    assert sent[TRACEPARENT].split("-")[1] == PARENT.split("-")[1], "the same trace"
    assert sent[TRACEPARENT] != PARENT, "a child span's context"
