"""Melodies move: mostly by step, seldom on one repeated note (docs/music.md, "Melodies
that move").

The 40 sentences of the music audit at seeds 1-3 are composed and the melody track read
back from the file with mido, not from kmidi's note list. Before the mend (cdc79eb~1) these
pieces had 17 % repeated notes, 35 % steps, and a third of them held one pitch four times
running or more; after it 6 %, 53 % and 2 %. The bounds sit between the two.
"""

from __future__ import annotations

import io
import json
from itertools import pairwise
from pathlib import Path

import mido

from kmidi.compose import compose
from schemas.intent import Intent

SENTENCES = Path(__file__).resolve().parents[2] / "bench" / "music_audit_sentences.jsonl"
MELODY_TRACK = "melody"


def _melody(data: bytes) -> list[int]:
    """The melody's pitches in time order (the highest first when two start together)."""
    notes: list[tuple[int, int]] = []
    for track in mido.MidiFile(file=io.BytesIO(data)).tracks:
        if track.name != MELODY_TRACK:
            continue
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "note_on" and message.velocity > 0:
                notes.append((tick, -message.note))
    return [-pitch for _, pitch in sorted(notes)]


def _longest_repeat(line: list[int]) -> int:
    best = run = 1
    for before, after in pairwise(line):
        run = run + 1 if after == before else 1
        best = max(best, run)
    return best


def test_melodies_move_by_step_and_seldom_repeat() -> None:
    rows = [json.loads(line) for line in SENTENCES.read_text(encoding="utf-8").splitlines()]
    moves: list[int] = []
    stuck = pieces = 0
    for row in rows:
        intent = Intent(emotional_intent=row["text"], technical=row.get("technical") or {})
        for seed in (1, 2, 3):
            line = _melody(compose(intent, seed=seed).midi)
            if len(line) < 2:
                continue
            pieces += 1
            moves += [abs(after - before) for before, after in pairwise(line)]
            stuck += _longest_repeat(line) >= 4
    repeats = sum(move == 0 for move in moves) / len(moves)
    steps = sum(1 <= move <= 2 for move in moves) / len(moves)
    print(f"{pieces} pieces: repeats {repeats:.1%}, steps {steps:.1%}, stuck {stuck}")
    assert pieces >= 100
    assert repeats < 0.10, repeats
    assert steps > 0.45, steps
    assert stuck <= 0.08 * pieces, stuck
