"""Melodies move: mostly by step, seldom on one repeated note (docs/music.md, "Melodies
that move").

The 40 sentences of the music audit at seeds 1-3 are composed and the melody track read
back from the file by the audit's mido reader (``bench/music_audit.py``), not from kmidi's
note list. Before the mend (cdc79eb~1) these
pieces had 17 % repeated notes, 35 % steps, and a third of them held one pitch four times
running or more; after it 6 %, 53 % and 2 %. The bounds sit between the two.
"""

from __future__ import annotations

import json
import sys
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from music_audit import longest_run, parse_midi

from kmidi.compose import compose
from schemas.intent import Intent

SENTENCES = Path(__file__).resolve().parents[2] / "bench" / "music_audit_sentences.jsonl"


def test_melodies_move_by_step_and_seldom_repeat() -> None:
    rows = [json.loads(line) for line in SENTENCES.read_text(encoding="utf-8").splitlines()]
    moves: list[int] = []
    stuck = pieces = 0
    for row in rows:
        intent = Intent(emotional_intent=row["text"], technical=row.get("technical") or {})
        for seed in (1, 2, 3):
            line = parse_midi(compose(intent, seed=seed).midi).melody_line()
            if len(line) < 2:
                continue
            pieces += 1
            moves += [abs(after - before) for before, after in pairwise(line)]
            stuck += longest_run(line) >= 4
    repeats = sum(move == 0 for move in moves) / len(moves)
    steps = sum(1 <= move <= 2 for move in moves) / len(moves)
    print(f"{pieces} pieces: repeats {repeats:.1%}, steps {steps:.1%}, stuck {stuck}")
    assert pieces >= 100
    assert repeats < 0.10, repeats
    assert steps > 0.45, steps
    assert stuck <= 0.08 * pieces, stuck
