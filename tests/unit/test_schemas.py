"""Event and HTTP models: the exported JSON Schema files match, and validation is strict."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, get_args

import jsonschema
import pytest
from pydantic import BaseModel, Field, ValidationError

from kmidi.audio import AUDIO_FORMATS
from schemas.events import (
    EVENT_MODELS,
    RESULT_SCHEMA_VERSION,
    Artifact,
    ArtifactError,
    AudioFormat,
    ErrorInfo,
    GenerationResult,
    IntentSubmitted,
    dump_event,
)
from schemas.export import JSON_DIR, render_schemas
from schemas.http import GenerateRequest
from schemas.intent import MAX_TEXT_CHARS

DATA = Path(__file__).with_name("data")


def test_exported_json_schemas_are_up_to_date() -> None:
    expected = render_schemas()
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in JSON_DIR.glob("*.json")}
    stale = sorted(name for name in expected if on_disk.get(name) != expected[name])
    extra = sorted(set(on_disk) - set(expected))
    assert not stale, f"stale JSON Schema files {stale}: run `make schemas`"
    assert not extra, f"JSON Schema files without a model: {extra}"


def test_minimal_intent_event_from_another_system_validates_in_both_schema_and_model() -> None:
    event = {
        "schema": "kmidi.intent.v1",
        "request_id": "other-system-1",
        "intent": {"emotional_intent": "we won the championship!"},
    }
    schema = json.loads((JSON_DIR / "kmidi.intent.v1.json").read_text())
    jsonschema.validate(event, schema)
    parsed = IntentSubmitted.model_validate(event)
    assert parsed.intent.technical.bpm is None
    assert parsed.seed is None


@pytest.mark.parametrize("name", sorted(EVENT_MODELS))
def test_every_model_round_trips_through_the_wire_format(name: str) -> None:
    samples = {
        "kmidi.intent.v1": {"request_id": "r1", "intent": {"emotional_intent": "grief"}},
        "kmidi.plan.v1": {
            "request_id": "r1",
            "intent": {"emotional_intent": "grief"},
            "seed": 3,
            "affect": {"primary": "grief"},
            "plan": {"tempo": 70},
            "submitted_at": "2026-01-01T00:00:00Z",
        },
        "kmidi.result.v1": {
            "request_id": "r1",
            "status": "failed",
            "error": {"code": "x", "message": "y"},
        },
        "kmidi.interrogation.v1": {"request_id": "r1", "session_id": "s1", "message": "hi"},
        "kmidi.interrogation-reply.v1": {
            "request_id": "r1",
            "session_id": "s1",
            "turn": 1,
            "ready": False,
        },
        "kmidi.deadletter.v1": {
            "stage": "interrogation",
            "reason": "not_json",
            "error": "Expecting value",
            "original_topic": "kmidi.intents.v1",
            "original_partition": 0,
            "original_offset": 5,
            "original_value_base64": "bm90IGpzb24=",
        },
        "kmidi.idempotency.v1": {
            "request_id": "r1",
            "kind": "completed",
            "fingerprint": "a" * 64,
            "created": 1767225600.5,
            "response": "e30=",
        },
    }
    model = EVENT_MODELS[name]
    event = model.model_validate(samples[name])
    wire = json.loads(dump_event(event))
    assert wire["schema"] == name
    jsonschema.validate(wire, json.loads((JSON_DIR / f"{name}.json").read_text()))
    assert model.model_validate(wire) == event


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"intent": {"emotional_intent": ""}}, ("intent", "emotional_intent")),
        (
            {"intent": {"emotional_intent": "x" * (MAX_TEXT_CHARS + 1)}},
            ("intent", "emotional_intent"),
        ),
        (
            {"intent": {"emotional_intent": "sad", "technical": {"bpm": 500}}},
            ("intent", "technical", "bpm"),
        ),
        (
            {"intent": {"emotional_intent": "sad", "technical": {"bmp": 90}}},
            ("intent", "technical", "bmp"),
        ),
        (
            {"intent": {"emotional_intent": "sad", "technical": {"genre": "polka"}}},
            ("intent", "technical", "genre"),
        ),
        ({"intent": {"emotional_intent": "sad"}, "output_format": "wav"}, ("output_format",)),
        ({"intent": {"emotional_intent": "sad"}, "seed": -1}, ("seed",)),
        ({"emotional_intent": "sad"}, ("intent",)),
    ],
)
def test_careless_generate_bodies_are_rejected_with_the_field_named(
    body: dict[str, object], where: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError) as info:
        GenerateRequest.model_validate(body)
    locations = {tuple(str(part) for part in error["loc"]) for error in info.value.errors()}
    assert any(loc[: len(where)] == where for loc in locations), locations


def test_seed_service_body_is_accepted_as_is_with_length_aliases() -> None:
    body = GenerateRequest.model_validate(
        {
            "intent": {
                "emotional_intent": "I am feeling grief",
                "core_wound": None,
                "core_desire": "peace",
                "technical": {
                    "key": "D minor",
                    "bpm": 70,
                    "progression": "i-VI-III-VII",
                    "genre": "ambient",
                    "length": 24,
                },
            },
            "output_format": "midi",
        }
    )
    assert body.intent.technical.length_bars == 24


def test_wrong_schema_version_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"kmidi\.result\.v1"):
        GenerationResult.model_validate(
            {"schema": "kmidi.result.v2", "request_id": "r", "status": "completed"}
        )


class _ResultV10(BaseModel):
    """A consumer written against kmidi.result.v1 revision 1.0 (before artifacts): the
    fields and types of that model as they were, pydantic's default of ignoring extras."""

    schema_: Literal["kmidi.result.v1"] = Field(alias="schema")
    request_id: str
    status: Literal["completed", "failed"]
    midi_base64: str | None = None
    affect: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    error: ErrorInfo | None = None
    seed: int | None = None
    duration_seconds: float | None = None
    submitted_at: datetime | None = None
    completed_at: datetime


def _audio_result() -> GenerationResult:
    midi = b"MThd\x00\x00\x00\x06"
    return GenerationResult(
        request_id="r-audio",
        status="completed",
        midi_base64=base64.b64encode(midi).decode(),
        output_format="audio",
        audio_format="opus",
        artifacts=[
            Artifact(
                kind="audio",
                media_type="audio/ogg",
                size=1234,
                sha256=hashlib.sha256(b"x").hexdigest(),
                uri="file:///data/artifacts/r-audio/audio.opus",
            )
        ],
        artifact_errors=[ArtifactError(kind="audio", code="c", message="m", stage="audio")],
    )


def test_a_revision_1_1_result_is_read_by_a_revision_1_0_consumer() -> None:
    wire = dump_event(_audio_result())
    old = _ResultV10.model_validate_json(wire)
    assert (old.request_id, old.status, base64.b64decode(old.midi_base64 or "")) == (
        "r-audio",
        "completed",
        b"MThd\x00\x00\x00\x06",
    )
    # The JSON Schema of revision 1.0 as it was committed (copied before the change).
    schema_1_0 = json.loads((DATA / "kmidi.result.v1.0.schema.json").read_text())
    jsonschema.validate(json.loads(wire), schema_1_0)
    assert json.loads(wire)["schema_version"] == RESULT_SCHEMA_VERSION == "1.1"


def test_a_revision_1_0_result_reads_as_midi_only_without_artifacts() -> None:
    old = {"schema": "kmidi.result.v1", "request_id": "r", "status": "completed"}
    result = GenerationResult.model_validate(old)
    assert (result.output_format, result.artifacts, result.audio_pending) == ("midi", [], False)


def test_audio_format_is_refused_without_audio_output() -> None:
    with pytest.raises(ValidationError, match="audio_format is only allowed"):
        GenerateRequest.model_validate(
            {"intent": {"emotional_intent": "sad"}, "audio_format": "wav"}
        )
    body = GenerateRequest.model_validate(
        {"intent": {"emotional_intent": "sad"}, "output_format": "audio"}
    )
    assert body.chosen_audio_format == "ogg"


def test_audio_is_pending_until_made_or_failed() -> None:
    pending = GenerationResult(request_id="r", status="completed", output_format="audio")
    assert pending.audio_pending
    assert not _audio_result().audio_pending
    assert not pending.model_copy(update={"status": "failed"}).audio_pending


def test_schema_audio_formats_are_the_renderers() -> None:
    assert get_args(AudioFormat) == AUDIO_FORMATS
