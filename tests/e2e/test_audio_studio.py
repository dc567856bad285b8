"""Audio through the whole stack (issue 11): ``kmidi up`` with its audio stage, against the
session's real broker, real uvicorn services and real FluidSynth.

The audio file is read back by FFmpeg (ffprobe, and its ebur128 loudness meter), the MIDI's
length by midicsv; neither is
the code under test. The audio stage's process is frozen (SIGSTOP) to show that MIDI
results never wait for it: an ordering of events, not a timing.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kmidi.audio import PEAK_CEILING_DBTP, TARGET_LUFS
from stream_processors.artifacts import LocalArtifactStore
from tests.e2e.stack_process import RunningStack, start_stack
from tests.unit.midi_tools import midicsv
from tests.unit.test_audio import ffmpeg_probe

LENGTH_TOLERANCE = 0.05
"""Seconds: the audio is cut to the MIDI's length to the sample; Vorbis framing adds less."""
AUDIO_BODY: dict[str, Any] = {
    "intent": {"emotional_intent": "I am feeling grief", "technical": {"length_bars": 4}},
    "output_format": "audio",
    "seed": 7,
}
MIDI_BODY: dict[str, Any] = {
    "intent": {"emotional_intent": "we won the championship!", "technical": {"length_bars": 4}},
    "seed": 3,
}


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(
        tmp_path_factory.mktemp("audio-stack"),
        bootstrap=kafka_bootstrap,
        extra_env={"RATE_LIMIT_ENABLED": "false"},
    )
    try:
        yield running
    finally:
        running.stop()


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _submit(stack: RunningStack, body: dict[str, Any], request_id: str) -> None:
    answer = httpx.post(
        f"{stack.api_url}/v1/generate", json=body, headers={"X-Request-ID": request_id}
    )
    assert answer.status_code == 202, answer.text


def _settled(stack: RunningStack, request_id: str) -> dict[str, Any]:
    """The status once nothing more is coming (audio included): ?wait= waits for that."""
    answer = httpx.get(f"{stack.results_url}/v1/results/{request_id}?wait=60", timeout=70)
    assert answer.status_code == 200, answer.text
    status: dict[str, Any] = answer.json()
    return status


def _request_files(stack: RunningStack, request_id: str) -> list[str]:
    """The names after ``<request_id>@`` of the request's files in the stack's store."""
    store = LocalArtifactStore(stack.log_path.parent / "stack-data" / "artifacts")
    prefix = store.path_for(request_id, "")
    assert not (store.root / request_id).exists()  # nothing in the former layout
    return sorted(
        path.name.removeprefix(prefix.name) for path in prefix.parent.glob(f"{prefix.name}*")
    )


def test_an_audio_request_lists_midi_and_audio_and_serves_playable_audio(
    stack: RunningStack, tmp_path: Path
) -> None:
    audio_1 = _new_id("studio-audio")
    _submit(stack, AUDIO_BODY, audio_1)
    status = _settled(stack, audio_1)
    assert (status["status"], status["output_format"], status["audio_status"]) == (
        "completed",
        "audio",
        "completed",
    ), status
    by_kind = {artifact["kind"]: artifact for artifact in status["artifacts"]}
    assert set(by_kind) == {"midi", "audio"}
    audio_url = f"{stack.results_url}/v1/results/{audio_1}/audio"
    assert by_kind["audio"]["uri"] == status["audio_url"] == audio_url

    audio = httpx.get(audio_url)
    assert audio.status_code == 200, audio.text
    assert audio.headers["content-type"] == "audio/ogg"
    assert audio.headers["accept-ranges"] == "bytes"
    digest = hashlib.sha256(audio.content).hexdigest()
    assert (len(audio.content), digest) == (by_kind["audio"]["size"], by_kind["audio"]["sha256"])
    assert audio.headers["etag"] == f'"{digest}"'

    midi = httpx.get(status["result_url"])
    assert midi.status_code == 200
    assert hashlib.sha256(midi.content).hexdigest() == by_kind["midi"]["sha256"]
    parsed = midicsv(midi.content)
    piece_seconds = parsed.seconds(parsed.end_tick)
    (tmp_path / "piece.ogg").write_bytes(audio.content)
    probe = ffmpeg_probe(tmp_path / "piece.ogg")
    assert (probe.codec, probe.channels) == ("vorbis", 2)
    assert abs(probe.seconds - piece_seconds) < LENGTH_TOLERANCE, (probe, piece_seconds)
    # kmidi.audio's rule: the loudness target, unless the true peak would then pass the
    # ceiling; then quieter, with the peak at the ceiling (the Vorbis encoding moves both by
    # a fraction of a dB). Which of the two a piece gets depends on its notes.
    at_target = abs(probe.lufs - TARGET_LUFS) <= 1.0
    peak_limited = probe.lufs < TARGET_LUFS and probe.true_peak_dbtp >= PEAK_CEILING_DBTP - 1.0
    assert at_target or peak_limited, probe
    assert abs(status["duration_seconds"] - piece_seconds) < LENGTH_TOLERANCE


def test_range_requests_return_exactly_the_bytes_asked_for(stack: RunningStack) -> None:
    range_1 = _new_id("studio-range")
    _submit(stack, AUDIO_BODY, range_1)
    _settled(stack, range_1)
    url = f"{stack.results_url}/v1/results/{range_1}/audio"
    whole = httpx.get(url).content
    size = len(whole)

    part = httpx.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-1099/{size}"
    assert part.content == whole[100:1100]

    tail = httpx.get(url, headers={"Range": "bytes=-500"})
    assert (tail.status_code, tail.content) == (206, whole[-500:])

    beyond = httpx.get(url, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"

    head = httpx.head(url)
    assert (head.status_code, head.content) == (200, b"")
    assert int(head.headers["content-length"]) == size

    unchanged = httpx.get(url, headers={"If-None-Match": head.headers["etag"]})
    assert unchanged.status_code == 304


def test_audio_of_a_midi_only_or_unknown_request_is_a_clear_error(stack: RunningStack) -> None:
    midi_only_1 = _new_id("studio-midi-only")
    _submit(stack, MIDI_BODY, midi_only_1)
    status = _settled(stack, midi_only_1)
    assert (status["output_format"], status["audio_status"], status["audio_url"]) == (
        "midi",
        None,
        None,
    )
    assert [a["kind"] for a in status["artifacts"]] == ["midi"]
    answer = httpx.get(
        f"{stack.results_url}/v1/results/{midi_only_1}/audio",
        headers={"X-Request-ID": "ask-audio-1"},
    )
    assert answer.status_code == 422
    body = answer.json()
    assert (body["request_id"], body["error"]["code"]) == ("ask-audio-1", "not_audio")

    unknown = httpx.get(f"{stack.results_url}/v1/results/no-such-request/audio")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")


def test_midi_results_do_not_wait_for_a_frozen_audio_stage(stack: RunningStack) -> None:
    [audio_pid] = stack.pids_of("stream_processors.audio_app")
    frozen_audio, frozen_midi = _new_id("studio-frozen-audio"), _new_id("studio-frozen-midi")
    os.kill(audio_pid, signal.SIGSTOP)
    try:
        _submit(stack, AUDIO_BODY, frozen_audio)
        _submit(stack, MIDI_BODY, frozen_midi)
        assert _settled(stack, frozen_midi)["status"] == "completed"
        pending = _wait_for_status(stack, frozen_audio, "completed")
        assert pending["audio_status"] == "pending"
        assert [a["kind"] for a in pending["artifacts"]] == ["midi"]
        assert httpx.get(pending["result_url"]).status_code == 200
        early = httpx.get(f"{stack.results_url}/v1/results/{frozen_audio}/audio")
        assert (early.status_code, early.json()["error"]["code"]) == (409, "not_ready")
        assert early.headers["retry-after"] == "1"
    finally:
        os.kill(audio_pid, signal.SIGCONT)
    assert _settled(stack, frozen_audio)["audio_status"] == "completed"


def test_delete_removes_the_request_and_its_files(stack: RunningStack) -> None:
    delete_1 = _new_id("studio-delete")
    _submit(stack, AUDIO_BODY, delete_1)
    assert _settled(stack, delete_1)["audio_status"] == "completed"
    files = _request_files(stack, delete_1)
    assert [name.split("-")[0] for name in files] == ["audio", "midi"], files

    deleted = httpx.delete(f"{stack.results_url}/v1/results/{delete_1}")
    assert deleted.status_code == 204, deleted.text
    assert _request_files(stack, delete_1) == []
    for path in ("", "/audio", "/midi"):
        gone = httpx.get(f"{stack.results_url}/v1/results/{delete_1}{path}")
        assert gone.status_code == 404, (path, gone.text)
    again = httpx.delete(f"{stack.results_url}/v1/results/{delete_1}")
    assert again.status_code == 404


def _wait_for_status(stack: RunningStack, request_id: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        answer = httpx.get(f"{stack.results_url}/v1/results/{request_id}")
        if answer.status_code == 200 and answer.json()["status"] == wanted:
            body: dict[str, Any] = answer.json()
            return body
        assert time.monotonic() < deadline, f"{request_id} not {wanted}: {answer.text}"
        time.sleep(0.2)


def test_the_audio_worker_exports_its_consumer_lag(stack: RunningStack) -> None:
    banner = re.search(r"audio\s+metrics at (http://\S+/metrics)", stack.log_text())
    assert banner, "kmidi up names the audio worker's metrics address"
    deadline = time.monotonic() + 30
    while True:
        lag_lines = [
            line
            for line in httpx.get(banner.group(1)).text.splitlines()
            if line.startswith("kmidi_consumer_lag{") and 'topic="kmidi.audio-requests.v1"' in line
        ]
        # Refreshed every CONSUMER_LAG_INTERVAL (5 s), one line per assigned partition.
        if len(lag_lines) == 6:
            return
        assert time.monotonic() < deadline, f"no lag of its input exported: {lag_lines}"
        time.sleep(1)
