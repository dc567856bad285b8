"""Who owns a request in the results view (the ``kmidi-api-key-id`` header), and what the
results service shows each API key, over HTTP without a broker (the view is fed by hand)."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemas.api_keys import create_key
from schemas.events import GenerationResult, IntentSubmitted, PlanReady, dump_event
from schemas.headers import API_KEY_ID
from schemas.intent import Intent
from schemas.topics import INTENTS, PLANS, RESULTS
from service_common.kafka_headers import build_headers
from stream_processors.results_service.config import Settings
from stream_processors.results_service.main import create_app
from stream_processors.results_service.store import Outcome, ResultsView
from tests.unit.test_results_store import SUBMITTED
from tests.unit.test_results_store import intent as store_intent

A, B = "aaaaaaaaaaaa", "bbbbbbbbbbbb"
MIDI = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x00\x04\x00\xff\x2f\x00"


def headers(request_id: str, owner: str | None) -> list[tuple[str, bytes]]:
    found = build_headers(request_id, "00-" + "1" * 32 + "-" + "2" * 16 + "-01")
    return found if owner is None else [*found, (API_KEY_ID, owner.encode())]


def intent(request_id: str, seed: int = 1) -> bytes:
    return store_intent(request_id, seed=seed)


def plan(request_id: str, affect: dict[str, Any]) -> bytes:
    return dump_event(
        PlanReady(
            request_id=request_id,
            intent=Intent(emotional_intent="x"),
            seed=7,
            affect=affect,
            plan={"key": "D minor"},
            submitted_at=SUBMITTED,
            planned_at=SUBMITTED + timedelta(seconds=1),
        )
    )


def result(request_id: str, *, affect: dict[str, Any] | None, status: str = "completed") -> bytes:
    return dump_event(
        GenerationResult.model_validate(
            {
                "request_id": request_id,
                "status": status,
                "midi_base64": base64.b64encode(MIDI).decode() if status == "completed" else None,
                "affect": affect,
                "error": None if status == "completed" else {"code": "x", "message": "y"},
                "submitted_at": SUBMITTED,
            }
        )
    )


def feed(view: ResultsView, topic: str, request_id: str, value: bytes, owner: str | None) -> Any:
    return view.apply(topic, request_id.encode(), value, headers(request_id, owner))


# -------------------------------------------------------------------------- the view


def owner_of(view: ResultsView, request_id: str) -> str | None:
    entry = view.get(request_id)
    assert entry is not None
    return entry.owner


def test_the_owner_is_the_key_on_the_records() -> None:
    view = ResultsView(max_entries=10)
    feed(view, INTENTS, "r1", intent("r1"), A)
    assert owner_of(view, "r1") == A
    feed(view, PLANS, "r1", plan("r1", {"mine": "a"}), A)
    feed(view, RESULTS, "r1", result("r1", affect={"mine": "a"}), A)
    entry = view.get("r1")
    assert entry is not None
    assert entry.owner == A
    assert entry.status == "completed"
    feed(view, INTENTS, "r2", intent("r2"), None)
    assert owner_of(view, "r2") is None


def test_a_malformed_key_header_owns_nothing() -> None:
    view = ResultsView(max_entries=10)
    feed(view, INTENTS, "r1", intent("r1"), "NOT-A-KEY-ID")
    entry = view.get("r1")
    assert entry is not None
    assert entry.owner is None


def test_another_keys_intent_for_a_known_request_changes_nothing() -> None:
    view = ResultsView(max_entries=10)
    feed(view, INTENTS, "r1", dump_event(IntentSubmitted(
        request_id="r1", intent=Intent(emotional_intent="x"), seed=None, submitted_at=SUBMITTED
    )), A)  # fmt: skip
    applied = feed(view, INTENTS, "r1", intent("r1", seed=99), B)
    entry = view.get("r1")
    assert entry is not None
    assert applied.outcome is Outcome.DUPLICATE
    assert (entry.owner, entry.seed) == (A, None), "B's seed is not filled into A's entry"


def test_another_keys_result_takes_the_request_and_nothing_of_the_first_owner_stays() -> None:
    view = ResultsView(max_entries=10)
    feed(view, INTENTS, "r1", intent("r1"), A)
    feed(view, PLANS, "r1", plan("r1", {"secret": "A's reading"}), A)
    feed(view, RESULTS, "r1", result("r1", affect={"secret": "A's reading"}), A)
    first = view.get("r1")
    assert first is not None
    version = first.version
    # B reused A's request ID; B's failed result carries no affect of its own.
    applied = feed(view, RESULTS, "r1", result("r1", affect=None, status="failed"), B)
    entry = view.get("r1")
    assert entry is not None
    assert applied.outcome is Outcome.APPLIED
    assert entry.owner == B
    assert entry.status == "failed"
    assert entry.affect is None
    assert entry.plan() is None
    assert entry.seed is None
    assert entry.midi is None
    assert entry.version > version
    assert view.payload_bytes == entry.payload_bytes


def test_another_keys_plan_on_a_finished_request_fills_in_nothing() -> None:
    view = ResultsView(max_entries=10)
    feed(view, RESULTS, "r1", result("r1", affect=None, status="failed"), A)
    feed(view, PLANS, "r1", plan("r1", {"secret": "B's reading"}), B)
    entry = view.get("r1")
    assert entry is not None
    assert entry.owner == A
    assert entry.affect is None
    assert entry.plan() is None


def test_a_plan_without_the_header_leaves_the_request_to_nobody() -> None:
    # An older worker that does not carry the header: keyed clients lose sight of the
    # request rather than anyone seeing what is not theirs.
    view = ResultsView(max_entries=10)
    feed(view, INTENTS, "r1", intent("r1"), A)
    feed(view, PLANS, "r1", plan("r1", {"x": 1}), None)
    entry = view.get("r1")
    assert entry is not None
    assert entry.owner is None
    assert entry.status == "processing"


def test_the_same_owners_records_in_any_order_keep_the_owner() -> None:
    view = ResultsView(max_entries=10)
    feed(view, RESULTS, "r1", result("r1", affect={"a": 1}), A)
    feed(view, PLANS, "r1", plan("r1", {"a": 1}), A)
    feed(view, INTENTS, "r1", intent("r1"), A)
    entry = view.get("r1")
    assert entry is not None
    assert entry.owner == A
    assert entry.status == "completed"


# -------------------------------------------------------------------------- over HTTP


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    """Two keys whose ids replace A and B in the records fed below."""
    path = tmp_path / "keys.json"
    first, first_record = create_key(path, "a")
    second, second_record = create_key(path, "b")
    return {
        "path": str(path),
        "a": first,
        "a_id": first_record.id,
        "b": second,
        "b_id": second_record.id,
    }


@pytest.fixture
async def results(keys: dict[str, str]) -> AsyncIterator[tuple[httpx.AsyncClient, ResultsView]]:
    settings = Settings(
        kmidi_api_keys_file=Path(keys["path"]),
        long_poll_max_seconds=5,
        sse_unknown_grace_seconds=0.5,
    )
    app = create_app(settings)  # no lifespan: no Kafka consumer, the view is fed by hand
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://results") as client:
        yield client, app.state.view


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_request_is_shown_to_its_key_only(
    results: tuple[httpx.AsyncClient, ResultsView], keys: dict[str, str]
) -> None:
    client, view = results
    feed(view, INTENTS, "mine", intent("mine"), keys["a_id"])
    feed(view, RESULTS, "mine", result("mine", affect={"a": 1}), keys["a_id"])
    feed(view, RESULTS, "anon", result("anon", affect={"a": 1}), None)
    owner = await client.get("/v1/results/mine", headers=bearer(keys["a"]))
    assert owner.status_code == 200
    assert owner.json()["status"] == "completed"
    assert (await client.get("/v1/results/mine/midi", headers=bearer(keys["a"]))).content == MIDI
    for path in ("/v1/results/mine", "/v1/results/mine/midi", "/v1/results/mine/audio"):
        other = await client.get(path, headers=bearer(keys["b"]))
        unknown = await client.get(path.replace("mine", "nobody"), headers=bearer(keys["b"]))
        assert other.status_code == unknown.status_code == 404, path
        same_words = other.json()["error"]["message"].replace("mine", "nobody")
        assert unknown.json()["error"] == {"code": "not_found", "message": same_words}, path
        assert other.json()["request_id"] == other.headers["x-request-id"]
    events = await client.get("/v1/results/mine/events", headers=bearer(keys["b"]))
    assert events.status_code == 404
    deleted = await client.delete("/v1/results/mine", headers=bearer(keys["b"]))
    assert deleted.status_code == 404
    assert view.get("mine") is not None, "B's DELETE removed nothing"
    # A request written to Kafka without a key belongs to no key.
    for key in ("a", "b"):
        anon = await client.get("/v1/results/anon", headers=bearer(keys[key]))
        assert anon.status_code == 404


async def test_a_long_poll_on_another_keys_request_waits_as_for_an_unknown_one(
    results: tuple[httpx.AsyncClient, ResultsView], keys: dict[str, str]
) -> None:
    client, view = results
    feed(view, RESULTS, "done", result("done", affect=None), keys["a_id"])
    start = time.monotonic()
    answer = await client.get("/v1/results/done?wait=1", headers=bearer(keys["b"]))
    waited = time.monotonic() - start
    assert answer.status_code == 404
    assert waited >= 0.9, "an immediate 404 would tell B the request exists and is done"
    start = time.monotonic()
    mine = await client.get("/v1/results/done?wait=1", headers=bearer(keys["a"]))
    assert mine.status_code == 200
    assert time.monotonic() - start < 0.5


async def test_a_stream_ends_when_the_request_goes_to_another_key(
    results: tuple[httpx.AsyncClient, ResultsView], keys: dict[str, str]
) -> None:
    client, view = results
    feed(view, INTENTS, "r1", intent("r1"), keys["a_id"])

    async def take_over() -> None:
        await asyncio.sleep(0.3)
        feed(view, RESULTS, "r1", result("r1", affect={"b": 1}), keys["b_id"])

    task = asyncio.create_task(take_over())
    async with asyncio.timeout(10):
        response = await client.get("/v1/results/r1/events", headers=bearer(keys["a"]))
    await task
    assert response.status_code == 200
    text = response.text
    assert "event: status" in text
    assert '"status":"accepted"' in text.replace(" ", "")
    assert "event: error" in text
    assert "not_found" in text
    assert '"b":1' not in text.replace(" ", ""), "A never sees B's result"
