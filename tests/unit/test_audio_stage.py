"""The audio stage's decisions on one record, with the real renderer and a real store
directory; what it publishes is recorded instead of sent (the Kafka path is tested end to
end in tests/e2e/test_audio_studio.py)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile  # type: ignore[import-untyped]

from kmidi.compose import compose
from schemas.events import GenerationResult, dump_event
from schemas.intent import Intent
from schemas.topics import AUDIO_REQUESTS, DEADLETTER, RESULTS
from service_common.kafka_headers import KafkaHeaders
from stream_processors import artifacts
from stream_processors.context import StageContext
from stream_processors.outcomes import AUDIO_HEADER, publish_result, result_headers
from stream_processors.publishing import Publisher
from stream_processors.records import InputRecord
from stream_processors.stages.audio import process_result

Sent = list[tuple[str, bytes | None, bytes]]


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "store"))
    artifacts.get_artifact_settings.cache_clear()
    artifacts.get_artifact_store.cache_clear()
    yield tmp_path / "store"
    artifacts.get_artifact_settings.cache_clear()
    artifacts.get_artifact_store.cache_clear()


def _publisher(sent: Sent) -> Publisher:
    async def send(topic: str, key: bytes | None, value: bytes, headers: object) -> None:
        sent.append((topic, key, value))

    return Publisher(send, attempts=1, max_wait=0.1)


def _record(result: GenerationResult) -> InputRecord:
    return InputRecord(AUDIO_REQUESTS, 0, 1, result.request_id.encode(), dump_event(result))


def _completed(**fields: object) -> GenerationResult:
    intent = Intent(emotional_intent="I am feeling calm", technical={"length_bars": 2})
    midi = compose(intent, seed=5).midi
    return GenerationResult.model_validate(
        {
            "request_id": "r-audio",
            "status": "completed",
            "midi_base64": base64.b64encode(midi).decode(),
            **fields,
        }
    )


async def test_a_pending_audio_is_rendered_stored_and_published(store_dir: Path) -> None:
    sent: Sent = []
    await process_result(
        _record(_completed(output_format="audio", audio_format="wav")), _publisher(sent)
    )
    [(topic, key, value)] = sent
    update = GenerationResult.model_validate_json(value)
    assert (topic, key, update.status, update.audio_pending) == (
        RESULTS,
        b"r-audio",
        "completed",
        False,
    )
    audio = update.artifact("audio")
    assert audio is not None
    assert audio.media_type == "audio/wav"
    path = artifacts.get_artifact_store().local_path(audio)
    assert path.parent.name == artifacts.shard_name("r-audio")
    assert path.name.startswith("r-audio@audio-")
    data = await asyncio.to_thread(path.read_bytes)
    assert hashlib.sha256(data).hexdigest() == audio.sha256
    assert soundfile.info(io.BytesIO(data)).samplerate == 44_100


async def test_midi_only_results_and_tombstones_are_left_alone(store_dir: Path) -> None:
    sent: Sent = []
    await process_result(_record(_completed()), _publisher(sent))
    await process_result(InputRecord(RESULTS, 0, 2, b"r-audio", b""), _publisher(sent))
    assert sent == []


async def test_missing_fluidsynth_is_an_artifact_error_not_a_failed_request(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    sent: Sent = []
    await process_result(_record(_completed(output_format="audio")), _publisher(sent))
    assert [topic for topic, _, _ in sent] == [RESULTS]  # an operator's fix: no dead letter
    update = GenerationResult.model_validate_json(sent[0][2])
    [error] = update.artifact_errors
    assert (update.status, error.kind, error.code) == ("completed", "audio", "audio_unavailable")
    assert "apt-get install fluidsynth" in error.message


async def test_an_unreadable_midi_is_dead_lettered_and_reported(store_dir: Path) -> None:
    sent: Sent = []
    broken = _completed(output_format="audio").model_copy(
        update={"midi_base64": base64.b64encode(b"not midi").decode()}
    )
    await process_result(_record(broken), _publisher(sent))
    assert sorted(topic for topic, _, _ in sent) == sorted([DEADLETTER, RESULTS])
    update = GenerationResult.model_validate_json(next(v for t, _, v in sent if t == RESULTS))
    assert [e.code for e in update.artifact_errors] == ["audio_failed"]


def test_result_headers_say_whether_the_audio_stage_has_work() -> None:
    assert dict(result_headers(_completed(output_format="audio"), None))[AUDIO_HEADER] == (
        b"pending"
    )
    assert dict(result_headers(_completed(), None))[AUDIO_HEADER] == b"none"


async def test_only_a_result_awaiting_audio_reaches_the_audio_stage_after_it() -> None:
    sent: Sent = []
    ctx = StageContext("generation", _record(_completed()), _publisher(sent))
    await publish_result(ctx, _completed())
    assert [topic for topic, _, _ in sent] == [RESULTS]
    sent.clear()
    await publish_result(ctx, _completed(output_format="audio"))
    # The request comes second: the audio stage's update can never precede the result.
    assert [topic for topic, _, _ in sent] == [RESULTS, AUDIO_REQUESTS]
    assert sent[0][1:] == sent[1][1:]


async def test_a_result_marked_without_audio_is_skipped_unread(store_dir: Path) -> None:
    sent: Sent = []
    # Bytes no parser accepts: dead-lettered when read, left alone when marked "none".
    marked = InputRecord(RESULTS, 0, 3, b"r-x", b"{not json", {AUDIO_HEADER: "none"})
    await process_result(marked, _publisher(sent))
    assert sent == []
    unmarked = InputRecord(RESULTS, 0, 4, b"r-x", b"{not json")  # written before the header
    await process_result(unmarked, _publisher(sent))
    assert [topic for topic, _, _ in sent] == [DEADLETTER]


async def test_the_stage_marks_its_own_output_as_done(store_dir: Path) -> None:
    headers: list[KafkaHeaders] = []

    async def send(topic: str, key: bytes | None, value: bytes, sent: KafkaHeaders) -> None:
        headers.append(sent)

    pending = _completed(output_format="audio", audio_format="wav")
    await process_result(_record(pending), Publisher(send, attempts=1, max_wait=0.1))
    [only] = headers
    assert dict(only)[AUDIO_HEADER] == b"none"
