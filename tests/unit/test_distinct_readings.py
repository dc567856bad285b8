"""Issue 9, item 2: two different readings composed with one seed are two pieces.

Over the music audit's 40 sentences, every pair whose readings differ (preset, intensity,
valence, arousal or modifiers) is composed with the same seed; a note is (onset to the
nearest sixteenth, pitch, channel), and a pair's share is |A ∩ B| / min(|A|, |B|).
``bench/music_distinct.py`` prints the same figures at any seed.

Before the arrangement choices (``kmidi/arrangement.py``) seeds 1-12 had 134 pairs sharing
half their notes or more (up to 88 %); after them 5 of about 9,300 remain (two pieces on
the same tonic, mode and genre whose accompaniment has little room to move: rock power
chords under a low melody, quiet folk in one key). So the goal holds for all but those
five, and the test guards the count over all twelve seeds rather than claiming any seed
is clean: seeds picked for a clean result would say nothing about the next one. With the
tenth session's arbiter 9 pairs (a strict xfail), with the eleventh session's reader 8: at
the limit, not below it.
"""

from __future__ import annotations

import statistics
import sys
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import music_distinct

from kmidi.compose import compose
from schemas.intent import Intent


@cache
def _pairs() -> list[music_distinct.Pair]:
    texts = music_distinct.texts()
    return [p for seed in range(1, 13) for p in music_distinct.shares(texts, seed)]


def test_over_twelve_seeds_almost_no_pair_sounds_alike() -> None:
    pairs = _pairs()
    alike = sum(p.share >= music_distinct.GOAL for p in pairs)
    worst = max(pairs, key=lambda p: p.share)
    print(f"seeds 1-12: {len(pairs)} pairs, >= 50%: {alike}, worst "
          f"{worst.share:.1%} ({worst.detail})")  # fmt: skip
    assert alike <= 8, f"{alike} pairs share half their notes (134 before the arrangement, 5 after)"


def test_over_twelve_seeds_the_typical_pair_shares_little() -> None:
    assert statistics.median(p.share for p in _pairs()) < 0.15


def test_one_text_and_one_seed_is_one_file() -> None:
    for text in music_distinct.texts()[:8]:
        first = compose(Intent(emotional_intent=text), seed=7).midi
        assert compose(Intent(emotional_intent=text), seed=7).midi == first, text
