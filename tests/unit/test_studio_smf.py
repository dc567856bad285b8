"""The studio page's MIDI reader (producer_api/static/smf.js), run in Node.js and compared
with mido on kmidi's pieces and on a hand-made file with running status and a sysex.

Without ``node`` the tests fail with an install hint; they never skip.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
from collections import Counter
from typing import Any

import mido
import pytest

from kmidi import compose
from producer_api.routes.studio import STATIC_DIR
from schemas.intent import Intent

# Reads base64 SMF bytes on stdin, prints parseMidi's result (or the error) as JSON.
RUN_READER = """
const { parseMidi } = await import(process.argv[1]);
let input = "";
for await (const chunk of process.stdin) input += chunk;
try {
  console.log(JSON.stringify(parseMidi(Buffer.from(input, "base64"))));
} catch (error) {
  console.log(JSON.stringify({ error: error.message }));
}
"""


def read_with_smf_js(midi: bytes) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH; install it: apt-get install nodejs")
    result = subprocess.run(
        [node, "--input-type=module", "-e", RUN_READER, str(STATIC_DIR / "smf.js")],
        input=base64.b64encode(midi).decode(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def mido_events(midi: bytes) -> tuple[Counter[tuple[int, ...]], Counter[tuple[int, ...]]]:
    """Note starts (track, channel, pitch, tick, velocity) and ends (track, channel, pitch,
    tick) as mido reads them."""
    starts: Counter[tuple[int, ...]] = Counter()
    ends: Counter[tuple[int, ...]] = Counter()
    for index, track in enumerate(mido.MidiFile(file=io.BytesIO(midi)).tracks):
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                starts[(index, msg.channel, msg.note, tick, msg.velocity)] += 1
            elif msg.type in ("note_on", "note_off"):
                ends[(index, msg.channel, msg.note, tick)] += 1
    return starts, ends


def smf_js_events(
    song: dict[str, Any],
) -> tuple[Counter[tuple[int, ...]], Counter[tuple[int, ...]]]:
    starts: Counter[tuple[int, ...]] = Counter()
    ends: Counter[tuple[int, ...]] = Counter()
    for track in song["tracks"]:
        for note in track["notes"]:
            key = (track["index"], note["channel"], note["pitch"])
            starts[(*key, note["start"], note["velocity"])] += 1
            ends[(*key, note["end"])] += 1
    return starts, ends


@pytest.mark.parametrize(
    "text",
    ["I am feeling grief", "a slow waltz for my grandmother", "we won the championship!"],
)
def test_every_note_of_a_kmidi_piece_starts_and_ends_where_mido_reads_it(text: str) -> None:
    midi = compose(Intent(emotional_intent=text), seed=5).midi
    song = read_with_smf_js(midi)
    file = mido.MidiFile(file=io.BytesIO(midi))
    assert song["ticksPerBeat"] == file.ticks_per_beat
    assert [t["name"] for t in song["tracks"]] == [t.name for t in file.tracks]
    assert smf_js_events(song) == mido_events(midi)


def test_running_status_velocity_zero_offs_sysex_tempo_and_meter() -> None:
    track = bytes.fromhex(
        "00 ff 51 03 07 a1 20"  # tempo 500,000 µs a beat
        "00 ff 58 04 06 03 18 08"  # 6/8
        "00 f0 03 7e 7f f7"  # a sysex
        "00 90 3c 64"  # note on C4
        "00 40 50"  # running status: note on E4
        "60 3c 00"  # running status, velocity 0: C4 off at 96
        "30 80 40 00"  # note off E4 at 144
        "00 ff 2f 00"
    )
    midi = (
        b"MThd"
        + (6).to_bytes(4, "big")
        + bytes.fromhex("0000 0001 0060")
        + b"MTrk"
        + len(track).to_bytes(4, "big")
        + track
    )
    song = read_with_smf_js(midi)
    assert song["tempos"] == [{"tick": 0, "usPerBeat": 500_000}]
    assert song["meters"] == [{"tick": 0, "numerator": 6, "denominator": 8}]
    assert song["tracks"][0]["notes"] == [
        {"channel": 0, "pitch": 60, "velocity": 100, "start": 0, "end": 96},
        {"channel": 0, "pitch": 64, "velocity": 80, "start": 0, "end": 144},
    ]
    assert smf_js_events(song) == mido_events(midi)


@pytest.mark.parametrize(
    ("midi", "message"),
    [
        (b"RIFF\x00\x00\x00\x04WAVE", "not a Standard MIDI File"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\xe7\x28", "SMPTE"),
        (
            b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x09\x00\x90\x3c",
            "cut short",
        ),
    ],
)
def test_a_file_it_cannot_read_is_an_error_that_says_why(midi: bytes, message: str) -> None:
    assert message in read_with_smf_js(midi)["error"]
