"""The results view with result revision 1.1: artifacts instead of bytes, the audio's
state, the audio stage's update, and deletion by tombstone."""

from __future__ import annotations

import hashlib
from typing import Any

from schemas.events import Artifact, ArtifactError
from schemas.topics import INTENTS, PLANS, RESULTS
from stream_processors.results_service.store import Outcome, ResultsView
from tests.unit.test_results_store import MIDI, intent, key, plan, result


def artifact(kind: str, data: bytes) -> Artifact:
    digest = hashlib.sha256(data).hexdigest()
    return Artifact.model_validate(
        {
            "kind": kind,
            "media_type": "audio/ogg" if kind == "audio" else "audio/midi",
            "size": len(data),
            "sha256": digest,
            "uri": f"file:///store/r1/{kind}-{digest[:16]}",
        }
    )


MIDI_ARTIFACT = artifact("midi", MIDI)
AUDIO_ARTIFACT = artifact("audio", b"OggS...")


def audio_result(**extra: Any) -> bytes:
    return result("r1", **{"output_format": "audio", "artifacts": [MIDI_ARTIFACT], **extra})


def test_a_result_with_a_midi_artifact_keeps_no_bytes_in_memory() -> None:
    view = ResultsView(max_entries=10)
    view.apply(RESULTS, key("r1"), result("r1", artifacts=[MIDI_ARTIFACT]))
    entry = view.get("r1")
    assert entry is not None
    assert (entry.midi, entry.midi_sha256, entry.has_midi) == (None, MIDI_ARTIFACT.sha256, True)
    assert entry.artifact("midi") == MIDI_ARTIFACT
    assert (entry.audio_status, entry.is_settled) == (None, True)


def test_audio_is_pending_until_the_audio_stage_adds_it() -> None:
    view = ResultsView(max_entries=10)
    view.apply(INTENTS, key("r1"), intent("r1"))
    first = view.apply(RESULTS, key("r1"), audio_result())
    entry = view.get("r1")
    assert entry is not None
    assert first.first_result
    assert (entry.status, entry.audio_status, entry.is_settled) == ("completed", "pending", False)

    update = view.apply(RESULTS, key("r1"), audio_result(artifacts=[MIDI_ARTIFACT, AUDIO_ARTIFACT]))
    assert (update.outcome, update.first_result) == (Outcome.APPLIED, False)
    assert (entry.audio_status, entry.is_settled) == ("completed", True)
    assert entry.artifact("audio") == AUDIO_ARTIFACT
    again = view.apply(RESULTS, key("r1"), audio_result(artifacts=[MIDI_ARTIFACT, AUDIO_ARTIFACT]))
    assert again.outcome is Outcome.DUPLICATE


def test_a_failed_audio_settles_the_request_as_completed() -> None:
    view = ResultsView(max_entries=10)
    view.apply(RESULTS, key("r1"), audio_result())
    error = ArtifactError(kind="audio", code="audio_failed", message="boom", stage="audio")
    assert view.apply(RESULTS, key("r1"), audio_result(artifact_errors=[error])).outcome is (
        Outcome.APPLIED
    )
    entry = view.get("r1")
    assert entry is not None
    assert (entry.status, entry.audio_status, entry.is_settled) == ("completed", "failed", True)


def test_a_deleted_request_is_not_brought_back_by_its_intent_or_plan() -> None:
    view = ResultsView(max_entries=10)
    view.apply(RESULTS, key("r1"), result("r1", artifacts=[MIDI_ARTIFACT]))
    assert view.apply(RESULTS, key("r1"), None).outcome is Outcome.DELETED
    # A replay reads the topics in any order: the intent and plan may come after.
    for topic, value in ((INTENTS, intent("r1")), (PLANS, plan("r1"))):
        applied = view.apply(topic, key("r1"), value)
        assert (applied.outcome, applied.reason) == (Outcome.STALE, "deleted")
    assert view.get("r1") is None
    # A result written after the tombstone is a new one (the last record wins).
    assert view.apply(RESULTS, key("r1"), result("r1")).outcome is Outcome.APPLIED
    assert view.get("r1") is not None


def test_remembered_deletions_are_bounded_by_max_entries() -> None:
    view = ResultsView(max_entries=2)
    for name in ("a", "b", "c"):
        view.apply(RESULTS, key(name), None)
    assert view.apply(INTENTS, key("a"), intent("a")).outcome is Outcome.APPLIED
    assert view.apply(INTENTS, key("c"), intent("c")).outcome is Outcome.STALE
