"""How much two readings' pieces share when composed with one seed (issue 9, item 2).

    .venv/bin/python bench/music_distinct.py [--seeds 7,11] [--sentences PATH] [--top 8]

For each seed, every sentence of the music audit set is composed, and every pair whose
readings differ (preset, intensity, valence, arousal or modifiers) is compared. A note is
(onset quantised to a sixteenth, pitch, channel); a pair's share is |A ∩ B| / min(|A|, |B|).
Prints the median share, the pairs at 50 % or more, and the worst pairs with their keys,
genres and tempi. ``tests/unit/test_distinct_readings.py`` holds the goal: no pair at 50 %.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kmidi.compose import Composition, compose  # noqa: E402
from schemas.intent import Intent  # noqa: E402

SENTENCES = ROOT / "bench" / "music_audit_sentences.jsonl"
GOAL = 0.5


@dataclass(frozen=True)
class Pair:
    share: float
    a: str
    b: str
    detail: str


def texts(path: Path = SENTENCES) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [str(r["text"]) for r in rows]


def note_set(piece: Composition) -> set[tuple[int, int, int]]:
    """(sixteenth, pitch, channel) of every note written."""
    return {(round(n.start_beats * 4), n.pitch, n.channel) for n in piece.piece.notes}


def reading(piece: Composition) -> tuple[object, ...]:
    e = piece.plan.emotion
    return (e.preset, e.intensity, e.valence, e.arousal, e.modifiers)


def describe(piece: Composition) -> str:
    p = piece.plan
    return (
        f"{p.emotion.preset} {p.key_tonic} {p.key_mode} {p.instrumentation.genre} "
        f"{p.tempo_bpm:g}bpm {p.length_bars}b"
    )


def shares(sentences: list[str], seed: int) -> list[Pair]:
    """Every pair of different readings at ``seed``, with its share of notes."""
    pieces = {t: compose(Intent(emotional_intent=t), seed=seed) for t in sentences}
    notes = {t: note_set(p) for t, p in pieces.items()}
    out = []
    for a, b in itertools.combinations(sentences, 2):
        pa, pb = pieces[a], pieces[b]
        if reading(pa) == reading(pb):
            continue
        na, nb = notes[a], notes[b]
        share = len(na & nb) / max(1, min(len(na), len(nb)))
        out.append(Pair(share, a, b, f"{describe(pa)} | {describe(pb)}"))
    return out


def summary(pairs: list[Pair], seed: int, top: int = 1) -> str:
    worst = sorted(pairs, key=lambda p: -p.share)
    lines = [
        f"seed {seed}: {len(pairs)} pairs, median {statistics.median(p.share for p in pairs):.1%},"
        f" >= {GOAL:.0%}: {sum(p.share >= GOAL for p in pairs)},"
        f" worst {worst[0].share:.1%}"
    ]
    lines += [f"  {p.share:.1%}  {p.detail}\n         {p.a!r} / {p.b!r}" for p in worst[:top]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="7,11")
    parser.add_argument("--sentences", type=Path, default=SENTENCES)
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    sentences = texts(args.sentences)
    for seed in (int(s) for s in args.seeds.split(",")):
        print(summary(shares(sentences, seed), seed, args.top))


if __name__ == "__main__":
    main()
