"""Benchmark ``analyse_text`` against a trivial ``str.lower().split()`` baseline.

Run: ``.venv/bin/python bench/bench_affect.py [rounds]``. Prints median and p95 per sentence
over the labelled corpus, single-threaded, and the ratio to the baseline in the same run; and
the lexicon alone (``reader=None``), to show what the trained reader costs.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kmidi.affect import analyse_text

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "unit" / "data" / "affect_corpus.jsonl"


def _sentences() -> list[str]:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    # holdout2 is the blind generalisation measurement: never run it while tuning.
    return [str(row["text"]) for row in rows if row.get("split") != "holdout2"]


def _timings(func: Callable[[str], object], sentences: list[str], rounds: int) -> list[float]:
    samples: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for sentence in sentences:
            start = clock()
            func(sentence)
            samples.append((clock() - start) / 1_000.0)
    return samples


def _summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    sentences = _sentences()
    for sentence in sentences:  # warm-up: import-time compilation is already done
        analyse_text(sentence)
    baseline = _summary(_timings(lambda s: s.lower().split(), sentences, rounds))
    analyser = _summary(_timings(analyse_text, sentences, rounds))
    lexicon = _summary(_timings(lambda s: analyse_text(s, reader=None), sentences, rounds))
    print(f"corpus: {len(sentences)} sentences x {rounds} rounds, one core")
    print(f"{'':24}{'median µs':>12}{'p95 µs':>12}")
    print(f"{'str.lower().split()':24}{baseline[0]:>12.2f}{baseline[1]:>12.2f}")
    print(f"{'analyse_text':24}{analyser[0]:>12.2f}{analyser[1]:>12.2f}")
    print(f"{'  lexicon alone':24}{lexicon[0]:>12.2f}{lexicon[1]:>12.2f}")
    print(
        f"ratio (median): {analyser[0] / baseline[0]:.0f}x   budget: median < 1000 µs -> "
        f"{'OK' if analyser[0] < 1000 else 'OVER'}"
    )


if __name__ == "__main__":
    main()
