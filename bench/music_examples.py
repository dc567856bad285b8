"""Print the worked examples of docs/music.md: plan, then melody and bass per beat.

    .venv/bin/python bench/music_examples.py

Each example is composed in-process and read back from its MIDI bytes with mido (not
from kmidi's note list), so the text shows what a player of the file hears.
"""

from __future__ import annotations

import io
from typing import Any

import mido

from kmidi.compose import compose
from schemas.intent import Intent

EXAMPLES: tuple[tuple[str, dict[str, Any], int], ...] = (
    ("we won the championship!", {"genre": "pop", "length_bars": 16}, 7),
    ("I am feeling grief", {"length_bars": 16}, 3),
    ("a smoky late night, a little wistful", {"genre": "jazz", "length_bars": 16}, 4),
    ("tender love for my newborn", {"genre": "folk", "time_signature": "3/4"}, 21),
)
BARS_SHOWN = 10
"""A 16-bar piece's 2-bar intro, its A phrase and the start of A'."""
_SHARPS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
_FLAT_SIGNATURES = frozenset(
    ("F", "Bb", "Eb", "Ab", "Db", "Gb", "Cb", "Dm", "Gm", "Cm", "Fm", "Bbm", "Ebm", "Abm")
)


def _name(pitch: int, signature: str) -> str:
    """The note's name as the key signature spells it (G# in A major, Ab in Eb major)."""
    names = _FLATS if signature in _FLAT_SIGNATURES else _SHARPS
    return f"{names[pitch % 12]}{pitch // 12 - 1}"


def _onsets(midi: bytes, track_name: str) -> list[tuple[int, int]]:
    """(tick, pitch) of every note-on of the named track, read with mido."""
    song = mido.MidiFile(file=io.BytesIO(midi))
    for track in song.tracks:
        if track.name == track_name:
            out, tick = [], 0
            for message in track:
                tick += message.time
                if message.type == "note_on" and message.velocity > 0:
                    out.append((tick, message.note))
            return out
    return []


def _beats(
    onsets: list[tuple[int, int]], bar: int, beat_ticks: int, beats: int, signature: str
) -> str:
    """One bar as beats separated by "|": the notes starting in each beat, "-" for none."""
    cells = []
    for k in range(beats):
        lo = bar * beats * beat_ticks + k * beat_ticks - beat_ticks // 8
        hi = lo + beat_ticks
        names = [_name(p, signature) for t, p in onsets if lo <= t < hi]
        cells.append(" ".join(names) or "-")
    return " | ".join(cells)


def example(text: str, technical: dict[str, Any], seed: int) -> str:
    """The docs' text for one example."""
    c = compose(Intent(emotional_intent=text, technical=technical), seed=seed)
    plan = c.plan
    num, den = plan.meter
    beat_ticks = 480 * 4 // den
    wishes = " ".join(
        f"--{k.replace('_bars', '').replace('_', '-')} {v}" for k, v in technical.items()
    )
    form = ", ".join(f"{p.label} {p.cadence}" for p in plan.phrases)
    lines = [
        f'kmidi compose "{text}" {wishes} --seed {seed}',
        f"{plan.key_tonic} {plan.key_mode}, {plan.time_signature}, {plan.tempo_bpm:g} bpm, "
        f"{plan.instrumentation.genre}, {plan.length_bars} bars; reading {plan.emotion.preset}",
        f"form: {form}",
    ]
    melody, bass = _onsets(c.midi, "melody"), _onsets(c.midi, "bass")
    for bar in range(min(BARS_SHOWN, plan.length_bars)):
        chords = " ".join(s.symbol for s in plan.progression if s.bar == bar) or "(held)"
        lines.append(f"bar {bar + 1:<2} {chords}")
        sig = plan.key_signature
        lines.append(f"  melody  {_beats(melody, bar, beat_ticks, num, sig)}")
        lines.append(f"  bass    {_beats(bass, bar, beat_ticks, num, sig)}")
    return "\n".join(lines)


def main() -> None:
    print("\n\n".join(example(*e) for e in EXAMPLES))


if __name__ == "__main__":
    main()
