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
BARS_SHOWN = 8
_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def _name(pitch: int) -> str:
    return f"{_NAMES[pitch % 12]}{pitch // 12 - 1}"


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


def _beats(onsets: list[tuple[int, int]], bar: int, beat_ticks: int, beats: int) -> str:
    """One bar as beats separated by "|": the notes starting in each beat, "-" for none."""
    cells = []
    for k in range(beats):
        lo = bar * beats * beat_ticks + k * beat_ticks - beat_ticks // 8
        hi = lo + beat_ticks
        names = [_name(p) for t, p in onsets if lo <= t < hi]
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
        lines.append(f"  melody  {_beats(melody, bar, beat_ticks, num)}")
        lines.append(f"  bass    {_beats(bass, bar, beat_ticks, num)}")
    return "\n".join(lines)


def main() -> None:
    print("\n\n".join(example(*e) for e in EXAMPLES))


if __name__ == "__main__":
    main()
