"""``IDEMPOTENCY_STORE=kafka`` against a real broker: two ingress instances, one claim.

Two ingress apps (each with its own producer, consumers and SQLite path, as two pods
would have) share only the broker: whatever they agree on, they agree on through
``kmidi.idempotency.v1``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from producer_api.idempotency_kafka import KafkaIdempotencyStore
from producer_api.kafka import PublishError
from producer_api.main import create_app
from schemas.kafka_connection import KafkaConnection
from schemas.topics import INTENTS
from stream_processors.topics import ensure_topics
from tests.integration.test_ingress import (
    SEED_BODY,
    TopicTail,
    ingress_settings,
    new_id,
    serving,
)

READY_TIMEOUT = 30.0


def kafka_app(bootstrap: str, **overrides: Any) -> FastAPI:
    settings = ingress_settings(bootstrap, idempotency_store="kafka", **overrides)
    return create_app(settings, configure_logs=False)


@pytest.fixture(scope="module")
async def kmidi_topics(kafka_connection: KafkaConnection) -> None:
    await ensure_topics(kafka_connection)


@pytest.fixture
async def pair(
    kafka_bootstrap: str, kmidi_topics: None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient]]:
    """Instance A's app and client, and instance B's client."""
    app_a = kafka_app(kafka_bootstrap)
    async with (
        serving(app_a, wait_ready=True) as a,
        serving(kafka_app(kafka_bootstrap), wait_ready=True) as b,
    ):
        yield app_a, a, b


@pytest.fixture
async def intents(consumer_factory: Callable[..., Any], kmidi_topics: None) -> TopicTail:
    return await TopicTail.open(consumer_factory, INTENTS)


async def published(
    intents: TopicTail, request_ids: set[str], client: httpx.AsyncClient
) -> list[str]:
    """The intents on kmidi.intents.v1 for ``request_ids``, up to a sentinel published after."""
    sentinel = new_id("sentinel")
    answer = await client.post("/v1/generate", json=SEED_BODY, headers={"X-Request-ID": sentinel})
    assert answer.status_code == 202, answer.text
    await intents.find(sentinel)
    seen = await intents.drain()
    return [m.key.decode() for m in seen if m.key and m.key.decode() in request_ids]


async def test_a_retry_on_the_other_instance_is_replayed_and_publishes_once(
    pair: tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient], intents: TopicTail
) -> None:
    _, a, b = pair
    key = {"Idempotency-Key": new_id("key")}
    first = await a.post("/v1/generate", json=SEED_BODY, headers=key)
    again = await b.post(
        "/v1/generate",
        content=json.dumps(SEED_BODY, indent=2),
        headers={**key, "Content-Type": "application/json"},
    )
    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    request_id = first.json()["request_id"]
    other = await b.post("/v1/generate", json=dict(SEED_BODY, seed=7), headers=key)
    assert other.status_code == 422, other.text
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert request_id in other.json()["error"]["message"]
    ids = {request_id, again.headers["x-request-id"], other.headers["x-request-id"]}
    assert await published(intents, ids, a) == [request_id]


async def test_concurrent_posts_to_both_instances_publish_once(
    pair: tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient], intents: TopicTail
) -> None:
    _, a, b = pair
    key = {"Idempotency-Key": new_id("key")}
    answers = await asyncio.gather(
        *(client.post("/v1/generate", json=SEED_BODY, headers=key) for client in [a, b] * 4)
    )
    assert {answer.status_code for answer in answers} <= {202, 409}, [a.text for a in answers]
    accepted = {answer.json()["request_id"] for answer in answers if answer.status_code == 202}
    assert len(accepted) == 1, accepted
    fresh = [answer for answer in answers if answer.status_code == 202]
    assert sum("idempotent-replayed" not in answer.headers for answer in fresh) == 1
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["error"]["code"] == "idempotency_key_in_use"
    later = await b.post("/v1/generate", json=SEED_BODY, headers=key)
    assert later.status_code == 202
    assert later.json()["request_id"] in accepted
    ids = {answer.headers["x-request-id"] for answer in [*answers, later]}
    assert await published(intents, ids, a) == list(accepted)


async def test_a_failed_first_request_releases_the_key_for_the_other_instance(
    pair: tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient],
    intents: TopicTail,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app_a, a, b = pair
    publisher = app_a.state.publisher
    publish = publisher.publish

    async def intents_refused(topic: str, *args: Any, **kwargs: Any) -> Any:
        if topic == INTENTS:
            raise PublishError("error", "simulated: the intent was refused")
        return await publish(topic, *args, **kwargs)

    monkeypatch.setattr(publisher, "publish", intents_refused)
    key = {"Idempotency-Key": new_id("key")}
    failed = await a.post("/v1/generate", json=SEED_BODY, headers=key)
    assert failed.status_code == 503, failed.text
    monkeypatch.undo()
    retry = await b.post("/v1/generate", json=SEED_BODY, headers=key)
    assert retry.status_code == 202, retry.text
    assert "idempotent-replayed" not in retry.headers, "the key was free: the retry publishes"
    assert retry.json()["request_id"] != failed.headers["x-request-id"]
    ids = {failed.headers["x-request-id"], retry.json()["request_id"]}
    assert await published(intents, ids, a) == [retry.json()["request_id"]]


async def test_a_new_instance_replays_the_claims_before_it_is_ready(
    kafka_bootstrap: str,
    kmidi_topics: None,
    pair: tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    _, a, _ = pair
    key = {"Idempotency-Key": new_id("key")}
    first = await a.post("/v1/generate", json=SEED_BODY, headers=key)
    assert first.status_code == 202, first.text
    app_c = kafka_app(kafka_bootstrap)
    async with serving(app_c, wait_ready=True) as c:  # waits for /ready
        report = (await c.get("/ready")).json()
        assert report["checks"]["idempotency_caught_up"] is True
        # Caught up at /ready: the claim is known before any request is served.
        assert app_c.state.idempotency.caught_up.is_set()
        assert any(h.request_id == first.json()["request_id"] for h in _holders(app_c))
        again = await c.post("/v1/generate", json=SEED_BODY, headers=key)
    assert again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["request_id"] == first.json()["request_id"]


async def test_not_ready_while_the_claims_are_not_caught_up(
    kafka_bootstrap: str, kmidi_topics: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def never_assigned(self: KafkaIdempotencyStore, consumer: Any) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(KafkaIdempotencyStore, "_assign", never_assigned)
    async with serving(kafka_app(kafka_bootstrap)) as client:
        async with asyncio.timeout(READY_TIMEOUT):  # the producer connects; the claims never
            while True:
                report = (await client.get("/health")).json()
                if report["checks"]["broker_reachable"]:
                    break
                await asyncio.sleep(0.05)
        assert report["checks"]["idempotency_caught_up"] is False
        answer = await client.get("/ready")
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "not_ready"
        assert "Idempotency-Key" in answer.json()["error"]["message"]


def _holders(app: FastAPI) -> list[Any]:
    return list(app.state.idempotency.table.holders.values())
