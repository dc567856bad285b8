"""Property-based: random intents and wishes never crash and are always honoured."""

from __future__ import annotations

import io
from typing import Any

import mido
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmidi.compose import compose
from kmidi.errors import TechnicalWishError
from kmidi.render import PPQ
from kmidi.theory import (
    RULE_BREAKS,
    key_signature,
    parse_chord_symbol,
    parse_key,
    parse_progression,
)
from schemas.intent import GENRES, Intent
from tests.unit.midi_tools import midicsv

TONICS = ("C", "C#", "Db", "D", "Eb", "E", "F", "F#", "Gb", "G", "Ab", "A", "Bb", "B")
MODE_WORDS = ("", " major", " minor", "m", " dorian", " phrygian", " lydian", " mixolydian",
              " aeolian", " locrian")  # fmt: skip
TEXTS = (
    "I am feeling grief", "we won the championship!", "I am furious", "so calm", "terrified",
    "tender love", "nothing much", "nostalgic for home", "numb", "awe",
)  # fmt: skip
NUMERALS = ("I", "ii", "iii", "IV", "V", "vi", "vii°", "i", "iv", "v", "bVI", "bVII", "bIII",
            "V7", "ii7", "Imaj7", "V/V", "IVmaj7", "viiø7")  # fmt: skip
SYMBOLS = ("C", "Am", "F", "G7", "Dm7", "Bdim", "Esus4", "Bbmaj7", "F#m7b5", "E/G#", "Ab",
           "C#m", "D9", "Gsus2")  # fmt: skip
SIGNATURES = ("2/4", "3/4", "4/4", "5/4", "6/8", "7/8", "9/8", "12/8")

wishes = st.fixed_dictionaries(
    {},
    optional={
        "key": st.builds(lambda t, m: t + m, st.sampled_from(TONICS), st.sampled_from(MODE_WORDS)),
        "bpm": st.floats(min_value=40, max_value=240, allow_nan=False).map(lambda x: round(x, 2)),
        "length_bars": st.integers(min_value=1, max_value=20),
        "time_signature": st.sampled_from(SIGNATURES),
        "genre": st.sampled_from(GENRES),
        "progression": st.one_of(
            st.lists(st.sampled_from(NUMERALS), min_size=1, max_size=6).map("-".join),
            st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=6).map(" ".join),
            st.lists(st.sampled_from(NUMERALS + SYMBOLS), min_size=1, max_size=5),
        ),
        "rule_breaks": st.lists(st.sampled_from(tuple(RULE_BREAKS)), max_size=3, unique=True),
    },
)
texts = st.one_of(st.sampled_from(TEXTS), st.text(min_size=1, max_size=40).filter(str.strip))
seeds = st.integers(min_value=0, max_value=2**31 - 1)
SETTINGS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def bar_pcs(
    parsed: Any, bar: int, bar_ticks: int, tracks: tuple[str, ...] = ("harmony",)
) -> set[int]:
    # Onsets up to an eighth of a beat early belong to the bar (timing feel and humanising
    # reach ~0.11 beat at most); the previous bar's last strike is at least 1/4 beat earlier.
    slack = PPQ // 8
    return {
        n.pitch % 12
        for track in tracks
        for n in parsed.track(track)
        if bar * bar_ticks - slack <= n.start < (bar + 1) * bar_ticks - slack
    }


@SETTINGS
@given(text=texts, technical=wishes, seed=seeds)
def test_random_wishes_are_honoured(text: str, technical: dict[str, Any], seed: int) -> None:
    intent = Intent(emotional_intent=text, technical=technical)
    c = compose(intent, seed=seed)
    plan, midi = c.plan, c.piece.midi

    mid = mido.MidiFile(file=io.BytesIO(midi))
    parsed = midicsv(midi)
    assert parsed.fmt == 1
    assert parsed.unterminated == 0

    num, den = (int(x) for x in technical.get("time_signature", "4/4").split("/"))
    bar_ticks = num * 4 * PPQ // den

    # Key: the signature event, and the notes themselves.
    key = parse_key(technical["key"]) if "key" in technical else plan.key
    assert (plan.key_tonic, plan.key_mode) == (key.tonic, key.mode)
    name, sf = key_signature(key)
    assert [m.key for m in mid.tracks[0] if m.type == "key_signature"] == [name]
    assert [k[1] for k in parsed.key_signatures] == [sf]
    melody = parsed.track("melody")
    if "progression" not in technical and melody:
        # Borrowed colour (modal interchange, the raised seventh of minor) is in key when
        # the harmony of the same bar carries it too: as voiced in the file, or as a tone of
        # the bar's chord that a three-voice voicing left out (the fifth of a seventh chord).
        per_bar = [bar_pcs(parsed, b, bar_ticks) for b in range(plan.length_bars)]
        for slot in plan.progression:
            per_bar[slot.bar] |= set(parse_chord_symbol(slot.symbol).pitch_classes)
        in_scale = sum(
            n.pitch % 12 in key.scale
            or n.pitch % 12 in per_bar[min(plan.length_bars - 1, n.start // bar_ticks)]
            for n in melody
        ) / len(melody)
        assert in_scale >= 0.85

    # Tempo.
    if "bpm" in technical:
        assert parsed.tempos[0] == (0, round(60_000_000 / technical["bpm"]))

    # Length: every track ends exactly on the last bar line; no note overruns it.
    bars = technical.get("length_bars", plan.length_bars)
    assert plan.length_bars == bars
    assert set(parsed.track_ends.values()) == {bars * bar_ticks}
    assert all(n.end <= bars * bar_ticks for n in parsed.notes)
    assert parsed.seconds(parsed.end_tick) == pytest.approx(c.piece.duration_seconds, rel=1e-6)

    # Progression: the harmony sounding in each bar is the requested chord, repeated.
    if "progression" in technical:
        chords = parse_progression(technical["progression"], key)
        intro = plan.phrases[0].end_bar if plan.instrumentation.intro else 0
        for bar in range(bars):
            chord = chords[bar % len(chords)]
            if bar < intro and "harmony" not in plan.instrumentation.intro:
                # The harmony sits out this intro: the pad holds the chord (its upper
                # voices) over the bass, which starts the bar on the root (or written bass).
                heard = bar_pcs(parsed, bar, bar_ticks, ("pad",))
                downbeat = min(
                    (n for n in parsed.track("bass") if n.start >= bar * bar_ticks - PPQ // 8),
                    key=lambda n: n.start,
                )
                assert downbeat.pitch % 12 == chord.bass_pc, (bar, chord, downbeat)
            else:
                heard = bar_pcs(parsed, bar, bar_ticks)
                assert chord.root in heard, (bar, chord, heard)
            assert heard, f"no harmony in bar {bar}"
            assert heard <= set(chord.pitch_classes), (bar, chord, heard)


@SETTINGS
@given(text=texts, technical=wishes, seed=seeds)
def test_same_seed_same_bytes(text: str, technical: dict[str, Any], seed: int) -> None:
    intent = Intent(emotional_intent=text, technical=technical)
    assert compose(intent, seed=seed).piece.midi == compose(intent, seed=seed).piece.midi


@settings(max_examples=15, deadline=None)
@given(text=st.sampled_from(TEXTS), seed=seeds)
def test_different_seeds_different_bytes(text: str, seed: int) -> None:
    intent = Intent(emotional_intent=text, technical={"length_bars": 8})
    other = (seed + 1) % 2**31
    assert compose(intent, seed=seed).piece.midi != compose(intent, seed=other).piece.midi


@settings(max_examples=60, deadline=None)
@given(
    key=st.text(min_size=1, max_size=12).filter(str.strip),
    progression=st.text(min_size=1, max_size=20).filter(str.strip),
)
def test_garbage_wishes_fail_cleanly(key: str, progression: str) -> None:
    """Nonsense is either understood or rejected with a TechnicalWishError — never a crash."""
    outcome: TechnicalWishError | bytes
    try:
        outcome = compose(
            Intent(
                emotional_intent="x",
                technical={"key": key, "progression": progression, "length_bars": 2},
            ),
            seed=1,
        ).piece.midi
    except TechnicalWishError as exc:
        outcome = exc
    if isinstance(outcome, TechnicalWishError):
        assert outcome.code in ("invalid_key", "invalid_progression")
        assert outcome.message
    else:
        assert outcome.startswith(b"MThd")
