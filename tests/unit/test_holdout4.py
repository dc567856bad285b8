"""holdout4: 103 sentences written and labelled blind (plain, scenes, sarcasm, five other
languages, long texts, musical words, unsure ones), measured, never tuned on.

The first pass (commit b7765c2, before any multilingual vocabulary) read the family right
for 49 of 103 (48 %): plain English 16/18, musical 17/20, unsure 5/6 flagged, scenes
7/14, long 2/5, sarcasm 1/9, other languages 1/31. The second pass, after the
multilingual lexicon (written by someone who never opened this file), read 78 of 103
(76 %): other languages 30/31, everything else as before. The goal is 90 %; until it is met the
test below is a strict xfail, so the marker cannot outlive the gap. The table prints
counts per category and language only: the rows stay unread by whoever tunes the
analyser.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kmidi.affect import analyse_text
from kmidi.emotions import PRESETS

SPLIT = Path(__file__).parent / "data" / "affect_holdout4.jsonl"
GOAL = 0.90


def _rows() -> list[dict[str, object]]:
    return [json.loads(line) for line in SPLIT.read_text("utf-8").splitlines() if line.strip()]


def test_the_split_covers_what_it_claims() -> None:
    rows = _rows()
    assert len(rows) >= 80
    assert {r["language"] for r in rows} == {"en", "es", "de", "fr", "pt", "it"}
    assert {"plain", "scene", "sarcasm", "language", "long", "musical", "unsure"} <= {
        r["category"] for r in rows
    }


@pytest.mark.xfail(
    strict=True,
    reason="blind holdout4 below the 90 % goal (48 % first pass, 76 % second; see docstring)",
)
def test_family_accuracy_on_holdout4() -> None:
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for row in _rows():
        reading = analyse_text(str(row["text"]))
        hit = PRESETS[reading.primary].family == row["family"]
        for group in (f"category {row['category']}", f"language {row['language']}", "all"):
            total[group] += 1
            right[group] += hit
    table = "\n".join(f"{g:<22} {right[g]:>3}/{total[g]:<3}" for g in sorted(total))
    print(f"\nholdout4 family accuracy:\n{table}")
    assert right["all"] / total["all"] >= GOAL, table
