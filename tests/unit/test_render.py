"""The rendered file: structure, timing, determinism; checked with mido, midicsv and timidity."""

from __future__ import annotations

import io
from collections import Counter
from itertools import pairwise
from typing import Any

import mido
import pytest

from kmidi.compose import Composition, compose
from kmidi.render import PPQ, render_midi
from schemas.intent import Intent
from tests.unit.midi_tools import midicsv, render_audio

# timidity keeps sounding voices through their release and reverb after the last event;
# measured 3–5 s with fluid-soundfont-gm. The WAV may exceed the piece by at most this.
TIMIDITY_TAIL_S = 6.0


def piece(text: str = "I am feeling grief", seed: int = 1, **technical: Any) -> Composition:
    return compose(Intent(emotional_intent=text, technical=technical), seed=seed)


def test_format_one_with_named_tracks_and_programs() -> None:
    c = piece("we won the championship!", genre="pop", length_bars=8)
    mid = mido.MidiFile(file=io.BytesIO(c.piece.midi))
    assert mid.type == 1
    assert mid.ticks_per_beat == PPQ
    names = [t.name for t in mid.tracks]
    assert names[1:] == ["harmony", "bass", "melody", "pad", "drums"]
    conductor = [m.type for m in mid.tracks[0]]
    assert {"set_tempo", "time_signature", "key_signature"} <= set(conductor)
    assert not any(m.type in ("note_on", "note_off") for m in mid.tracks[0])
    programs = {t.name: m.program for t in mid.tracks for m in t if m.type == "program_change"}
    inst = c.plan.instrumentation
    assert programs == {"harmony": inst.harmony_program, "bass": inst.bass_program,
                        "melody": inst.melody_program, "pad": inst.pad_program}  # fmt: skip
    drums = mid.tracks[names.index("drums")]
    assert {m.channel for m in drums if m.type == "note_on"} == {9}
    for t in mid.tracks[1:4]:
        assert 9 not in {m.channel for m in t if m.type == "note_on"}


def test_no_drum_track_without_drums() -> None:
    c = piece("I am feeling grief", genre="classical", length_bars=4)
    assert not c.plan.instrumentation.drums
    mid = mido.MidiFile(file=io.BytesIO(c.piece.midi))
    assert "drums" not in [t.name for t in mid.tracks]
    assert all(n.channel != 9 for n in c.piece.notes)


@pytest.mark.parametrize(
    ("key", "name", "sf", "mode"),
    [("D dorian", "C", 0, "major"), ("F# minor", "F#m", 3, "minor"),
     ("Bb", "Bb", -2, "major"), ("E phrygian", "C", 0, "major")],
)  # fmt: skip
def test_key_signature_event(key: str, name: str, sf: int, mode: str) -> None:
    c = piece(key=key, length_bars=2)
    mid = mido.MidiFile(file=io.BytesIO(c.piece.midi))
    assert [m.key for m in mid.tracks[0] if m.type == "key_signature"] == [name]
    assert midicsv(c.piece.midi).key_signatures == [(0, sf, mode)]


@pytest.mark.parametrize(
    ("sig", "bars", "bpm"),
    [("4/4", 8, 120.0), ("3/4", 5, 90.0), ("6/8", 7, 66.0), ("7/8", 6, 140.0),
     ("5/4", 3, 100.0), ("12/8", 2, 55.5), ("2/4", 9, 200.0), ("9/8", 4, 80.0)],
)  # fmt: skip
def test_length_is_bars_times_beats_over_tempo(sig: str, bars: int, bpm: float) -> None:
    c = piece("hope", time_signature=sig, length_bars=bars, bpm=bpm)
    num, den = (int(x) for x in sig.split("/"))
    expected = bars * num * 4 / den * 60 / bpm
    parsed = midicsv(c.piece.midi)
    assert parsed.time_signatures == [(0, num, den)]
    assert parsed.tempos == [(0, round(60_000_000 / bpm))]
    bar_ticks = num * 4 * PPQ // den
    assert set(parsed.track_ends.values()) == {bars * bar_ticks}  # every track ends on the bar
    assert max(n.end for n in parsed.notes) <= bars * bar_ticks
    assert parsed.unterminated == 0
    assert parsed.seconds(parsed.end_tick) == pytest.approx(expected, rel=1e-5)
    assert c.piece.duration_seconds == pytest.approx(expected, rel=1e-5)
    mid = mido.MidiFile(file=io.BytesIO(c.piece.midi))
    assert mid.length == pytest.approx(expected, rel=1e-5)


def test_tempo_drift_is_in_the_duration() -> None:
    c = piece("I am consumed by grief, it will never end", length_bars=12,
              rule_breaks=["tempo_drift"])  # fmt: skip
    parsed = midicsv(c.piece.midi)
    assert len(parsed.tempos) > 1
    assert parsed.seconds(parsed.end_tick) == pytest.approx(c.piece.duration_seconds, rel=1e-6)
    assert c.piece.duration_seconds == pytest.approx(c.plan.duration_seconds(), rel=1e-9)
    straight = c.plan.total_beats * 60 / c.plan.tempo_bpm
    assert abs(c.piece.duration_seconds - straight) > 0.01 * straight


@pytest.mark.parametrize(
    ("text", "technical"),
    [
        ("I am feeling grief", {"length_bars": 6}),
        ("we won the championship!", {"length_bars": 8, "genre": "rock"}),
        ("calm morning", {"length_bars": 4, "time_signature": "3/4", "genre": "folk"}),
        ("I am furious", {"length_bars": 5, "time_signature": "7/8", "bpm": 150}),
    ],
)
def test_timidity_renders_non_silent_audio_of_the_right_length(
    text: str, technical: dict[str, Any]
) -> None:
    c = piece(text, **technical)
    expected = c.plan.duration_seconds()
    parsed = midicsv(c.piece.midi)
    last_off = parsed.seconds(max(n.end for n in parsed.notes))
    assert parsed.seconds(parsed.end_tick) == pytest.approx(expected, rel=0.05)
    assert last_off <= expected + 1e-6
    assert last_off >= expected * 0.75, "the music should run close to the end"
    audio = render_audio(c.piece.midi)
    assert audio.seconds >= expected * 0.95
    assert audio.seconds <= expected + TIMIDITY_TAIL_S
    assert audio.loud_fraction > 0.5, audio
    assert audio.rms > 30, audio


def test_notes_list_matches_the_file() -> None:
    c = piece("we won the championship!", length_bars=8, genre="funk")
    parsed = midicsv(c.piece.midi)
    ours = sorted(
        (
            n.track,
            n.pitch,
            round(n.start_beats * PPQ),
            round((n.start_beats + n.duration_beats) * PPQ),
        )
        for n in c.piece.notes
    )
    theirs = sorted((n.track, n.pitch, n.start, n.end) for n in parsed.notes)
    assert ours == theirs
    for n in c.piece.notes[:50]:
        assert n.start_seconds == pytest.approx(parsed.seconds(round(n.start_beats * PPQ)))


def test_same_plan_same_bytes_different_seed_different_bytes() -> None:
    a = piece("I am feeling grief", seed=11)
    b = piece("I am feeling grief", seed=11)
    assert a.piece.midi == b.piece.midi
    assert render_midi(a.plan).midi == a.piece.midi
    others = {piece("I am feeling grief", seed=s).piece.midi for s in range(12, 17)}
    assert a.piece.midi not in others
    assert len(others) == 5


def test_melody_follows_the_chords() -> None:
    c = piece("hope", length_bars=16, progression="I vi IV V", genre="pop", key="G")
    parsed = midicsv(c.piece.midi)
    bar_ticks = 4 * PPQ
    chords = {0: {7, 11, 2}, 1: {4, 7, 11}, 2: {0, 4, 7}, 3: {2, 6, 9}}
    on_beat = hits = 0
    for n in parsed.track("melody"):
        pos = n.start % bar_ticks
        if min(pos, bar_ticks - pos) <= 30:  # the downbeat, give or take the feel
            bar = round(n.start / bar_ticks) % 4
            on_beat += 1
            hits += n.pitch % 12 in chords[bar]
    assert on_beat >= 6
    assert hits / on_beat >= 0.8
    scale = {7, 9, 11, 0, 2, 4, 6}
    mel = parsed.track("melody")
    assert sum(n.pitch % 12 in scale for n in mel) / len(mel) >= 0.95


def test_behind_the_beat_plays_late() -> None:
    c = piece("I am feeling grief", length_bars=8, genre="classical", bpm=70)
    assert c.plan.groove.timing_feel == "behind"
    offsets = [
        (n.start_beats * PPQ) % (c.plan.beats_per_bar * PPQ)
        for n in c.piece.notes if n.track == "harmony"
    ]  # fmt: skip
    downbeats = [o for o in offsets if o < PPQ / 4]
    assert downbeats
    assert sum(downbeats) / len(downbeats) > 5


def test_velocity_follows_the_dynamics_curve() -> None:
    c = piece("hope and light", length_bars=32, genre="pop", seed=4)
    plan = c.plan
    bpb = plan.beats_per_bar
    by_bar: dict[int, list[int]] = {}
    for n in c.piece.notes:
        if n.track in ("harmony", "melody"):
            by_bar.setdefault(int(n.start_beats // bpb), []).append(n.velocity)
    means = {b: sum(v) / len(v) for b, v in by_bar.items()}
    loud = max(range(plan.length_bars), key=lambda b: plan.dynamics[b])
    soft = min(range(plan.length_bars), key=lambda b: plan.dynamics[b])
    assert plan.dynamics[loud] > plan.dynamics[soft]
    assert means[loud] > means[soft]


def test_comping_styles_shape_the_harmony_track() -> None:
    """Read back with midicsv: sustain holds whole chords, arpeggio breaks them up, strum
    spreads a chord's voices a few ticks apart."""
    text = "calm and peaceful evening"

    def onsets(genre: str) -> tuple[list[int], list[int]]:
        harmony = midicsv(piece(text, genre=genre, length_bars=8).piece.midi).track("harmony")
        sizes = Counter(n.start for n in harmony)
        return sorted(sizes.values()), sorted(n.end - n.start for n in harmony)

    sustain_sizes, sustain_lengths = onsets("ambient")
    assert sustain_sizes[0] >= 3  # every onset is a whole chord
    assert sustain_lengths[len(sustain_lengths) // 2] >= 2 * PPQ  # held, not struck
    arpeggio_sizes, _ = onsets("classical")
    assert sum(size == 1 for size in arpeggio_sizes) / len(arpeggio_sizes) >= 0.8
    harmony = midicsv(piece(text, genre="folk", length_bars=8).piece.midi).track("harmony")
    starts = sorted({n.start for n in harmony})
    gaps = Counter(b - a for a, b in pairwise(starts))
    assert gaps[round(0.012 * PPQ)] >= len(starts) // 4  # strummed voices, 0.012 beats apart
