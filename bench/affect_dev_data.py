"""kmidi's labelled development sentences, gathered for training and cross-validating an
embedding reader of affect (``bench/train_affect_model.py``).

Only development data: the English corpus' ``dev`` rows (never its holdout splits), the
sentence lists of the language, scene, sarcasm, long-text and unsure tests, the music
audit's first 40 sentences, feelingless texts written for the model
(``bench/affect_feelingless.jsonl``) and the fresh batches of ``bench/affect_fresh.jsonl``
whose first pass has been recorded (``"recorded": true``). The blind holdout files are
never opened here.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kmidi.emotions import PRESETS

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "unit" / "data" / "affect_corpus.jsonl"
AUDIT = ROOT / "bench" / "music_audit_sentences.jsonl"
FRESH = ROOT / "bench" / "affect_fresh.jsonl"
FEELINGLESS = ROOT / "bench" / "affect_feelingless.jsonl"
"""Errands, logistics and facts in the six languages, written to teach the model neutral."""
DEV_SPLITS = frozenset({"dev", None})
"""The corpus' holdout, holdout2 and holdout3 rows are left out: they measure, never train."""
AUDIT_PRESETS = {
    "grief": "grief",
    "anger": "anger",
    "fear": "fear",
    "anxiety": "anxiety",
    "lonely": "loneliness",
    "joy": "joy",
    "triumph": "euphoria",
    "calm": "calm",
    "love": "love",
    "nostalgia": "nostalgia",
    "awe": "awe",
    "heartbreak": "melancholy",
    "rage": "anger",
    "dread": "anxiety",
    "hope": "hope",
    "despair": "melancholy",
    "peace": "calm",
    "lullaby": "tenderness",
    "ambient": "numbness",
}
"""Music audit ids whose first word names a feeling; the others (bittersweet, boredom,
playful…) have no single family and are left out."""


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled sentence: its family, and its preset when the source names one."""

    text: str
    family: str
    source: str
    preset: str | None = None


def _corpus() -> Iterator[Example]:
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if line and row.get("split") in DEV_SPLITS:
            yield Example(row["text"], row["family"], "corpus", row["preset"])


def _audit() -> Iterator[Example]:
    for line in AUDIT.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        preset = AUDIT_PRESETS.get(row["id"].split("_")[0])
        if preset is not None:
            yield Example(row["text"], PRESETS[preset].family, "audit", preset)


def fresh_rows(*, recorded_only: bool = True) -> list[dict[str, object]]:
    """The fresh batches' rows; unrecorded ones are not development data yet."""
    rows = [json.loads(line) for line in FRESH.read_text(encoding="utf-8").splitlines() if line]
    return [row for row in rows if row.get("recorded") or not recorded_only]


def _fresh() -> Iterator[Example]:
    for row in fresh_rows():
        source = f"fresh{row['batch']}"
        yield Example(str(row["text"]), str(row["family"]), source, str(row["preset"]))


def _feelingless() -> Iterator[Example]:
    for line in FEELINGLESS.read_text(encoding="utf-8").splitlines():
        if line:
            yield Example(json.loads(line)["text"], "neutral", "feelingless", "neutral")


def _test_module(name: str) -> object:
    tests = str(ROOT / "tests" / "unit")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    return importlib.import_module(name)


def _pairs(source: str, rows: Iterable[tuple[str, str]]) -> Iterator[Example]:
    for text, family in rows:
        yield Example(text, family, source)


def _from_tests() -> Iterator[Example]:
    languages = _test_module("test_languages")
    for table in ("SENTENCES", "MORE", "SCENES", "FRESH", "PROBE"):
        for rows in getattr(languages, table).values():
            yield from _pairs("languages", rows)
    scenes = _test_module("test_scenes")
    for table in ("SCENES", "FRESH_SCENES", "PROBE_SCENES"):
        yield from _pairs("scenes", getattr(scenes, table))
    long_texts = _test_module("test_long_texts")
    for table in ("PARAGRAPHS", "PROBE"):
        yield from _pairs("long", getattr(long_texts, table))
    sarcasm = _test_module("test_sarcasm")
    for table in ("IRRITATED", "FORMS", "PROBE"):
        yield from _pairs("sarcasm", ((text, "anger") for text in getattr(sarcasm, table)))
    unsure = _test_module("test_unsure")
    for table in ("FEELINGLESS", "PROBE_FEELINGLESS"):
        yield from _pairs("unsure", ((text, "neutral") for text in getattr(unsure, table)))


def dev_examples() -> list[Example]:
    """Every development sentence once (first source wins), in a fixed order."""
    seen: dict[str, Example] = {}
    for example in (*_corpus(), *_audit(), *_from_tests(), *_fresh(), *_feelingless()):
        seen.setdefault(example.text, example)
    return list(seen.values())
