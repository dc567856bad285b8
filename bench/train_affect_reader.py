"""Fit the trained reader of feeling (``kmidi.affect_model``) and cross-validate it beside
the lexicon (docs/languages.md, "The trained reader").

Run: ``.venv/bin/python bench/train_affect_reader.py`` to fit on every labelled sentence and
write ``kmidi/data/affect_reader.npz``; ``--cv 5`` first cross-validates: the training
sentences of ``bench/affect_train/`` are split into folds, a reader is fitted on the other
folds plus every development sentence, and the held-out fold is read by the lexicon alone,
the reader alone, and both as ``kmidi.affect`` combines them (and with the settings of
``--blends``). The lexicon never saw the training sentences, so its figure there is a fresh
one. The training sentences were written by helpers working from a brief, without the
project (docs/languages.md).

Training sentences carry a preset. Development sentences that name only a family get the
preset the lexicon reads in that family, else the family's most common preset.

Deterministic: folds come from a fixed permutation and the solver (lbfgs) starts from zeros.
scikit-learn fits (a dev dependency); kmidi itself only multiplies the saved weights.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent))

from affect_dev_data import dev_examples

from kmidi import affect
from kmidi.affect_model import MODEL_FILE, AffectReader, family_shares, feature_value, features
from kmidi.emotions import PRESETS

ROOT = Path(__file__).resolve().parent.parent
TRAIN_DIR = ROOT / "bench" / "affect_train"
OUTPUT = ROOT / "kmidi" / "data" / MODEL_FILE
MIN_DOCUMENTS = 2
"""A feature seen in fewer training sentences than this is left out of the vocabulary."""
C = 16.0
"""Inverse L2 strength of the logistic regression."""
SEED = 11


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled sentence and where it came from (a training file, or "dev")."""

    text: str
    preset: str
    family: str
    category: str
    language: str
    source: str


def family_of(preset: str) -> str:
    return PRESETS[preset].family


def training_rows(folder: Path) -> list[Row]:
    rows: list[Row] = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                data = json.loads(line)
                preset = str(data["preset"])
                rows.append(
                    Row(
                        data["text"],
                        preset,
                        family_of(preset),
                        data["category"],
                        data["language"],
                        path.stem,
                    )
                )
    return rows


def development_rows(labelled: Sequence[Row]) -> list[Row]:
    common: dict[str, Counter[str]] = defaultdict(Counter)
    for row in labelled:
        common[row.family][row.preset] += 1
    rows = []
    for example in dev_examples():
        preset = example.preset
        if preset is None:
            read = affect.analyse_text(example.text, reader=None).primary
            if family_of(read) == example.family:
                preset = read
            else:
                preset = common[example.family].most_common(1)[0][0]
        rows.append(Row(example.text, preset, example.family, example.source, "dev", "dev"))
    return rows


def fit(rows: Sequence[Row], classes: Sequence[str]) -> AffectReader:
    found = [features(row.text) for row in rows]
    documents = Counter(name for names in found for name in names)
    names = sorted(name for name, count in documents.items() if count >= MIN_DOCUMENTS)
    vocabulary = {name: index for index, name in enumerate(names)}
    matrix = _matrix(found, vocabulary)
    labels = np.array([classes.index(row.preset) for row in rows])
    # Every family weighs the same in all, whatever its number of presets: balanced by
    # preset, "neutral" (one preset) would start each reading at 1/20 against joy's 3/20.
    per_family = Counter(row.family for row in rows)
    weights = np.array([len(rows) / (len(per_family) * per_family[row.family]) for row in rows])
    model = LogisticRegression(C=C, max_iter=3000)
    model.fit(matrix, labels, sample_weight=weights)
    return AffectReader(
        classes=tuple(classes[i] for i in model.classes_),
        vocabulary=vocabulary,
        weights=np.ascontiguousarray(model.coef_.T, dtype=np.float32),
        bias=model.intercept_.astype(np.float32),
    )


def _matrix(found: Sequence[set[str]], vocabulary: dict[str, int]) -> csr_matrix:
    indptr, indices, values = [0], [], []
    for names in found:
        known = sorted(vocabulary[name] for name in names if name in vocabulary)
        indices.extend(known)
        if known:  # a text of none of the vocabulary's features ("?") is a row of zeros
            values.extend([feature_value(len(known))] * len(known))
        indptr.append(len(indices))
    return csr_matrix((values, indices, indptr), shape=(len(found), len(vocabulary)))


def reader_family(reader: AffectReader, text: str) -> str:
    totals = family_shares(reader.probabilities(text))
    return max(totals, key=lambda family: totals[family]) if totals else "neutral"


@dataclass(frozen=True, slots=True)
class Blend:
    """One way of reading the reader beside the lexicon (``kmidi.affect``'s constants)."""

    lexicon_say: float = affect.LEXICON_SAY
    no_feeling: float = affect.NO_FEELING_SCORE
    firm: float = affect.FIRM_CONFIDENCE
    sure: float = affect.READER_SURE

    def __str__(self) -> str:
        return (
            f"say{self.lexicon_say:g}/none{self.no_feeling:g}/firm{self.firm:g}/sure{self.sure:g}"
        )

    def apply(self) -> None:
        affect.LEXICON_SAY, affect.NO_FEELING_SCORE = self.lexicon_say, self.no_feeling
        affect.FIRM_CONFIDENCE, affect.READER_SURE = self.firm, self.sure


def read_family(text: str, reader: AffectReader | None, blend: Blend | None = None) -> str:
    if blend is not None:
        blend.apply()
    return family_of(affect.analyse_text(text, reader=reader).primary)


def cross_validate(rows: list[Row], dev: list[Row], folds: int, blends: Sequence[Blend]) -> None:
    classes = sorted({row.preset for row in (*rows, *dev)})
    order = np.random.default_rng(SEED).permutation(len(rows))
    hits: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for fold in range(folds):
        held = {int(i) for i in order[fold::folds]}
        reader = fit([r for i, r in enumerate(rows) if i not in held] + dev, classes)
        for index in sorted(held):
            row = rows[index]
            groups = ("all", f"cat:{row.category}", f"lang:{row.language}", f"file:{row.source}")
            answers = {"lexicon": read_family(row.text, None)}
            answers["reader"] = reader_family(reader, row.text)
            for blend in blends:
                answers[str(blend)] = read_family(row.text, reader, blend)
            for group in groups:
                totals[group] += 1
                for name, family in answers.items():
                    hits[name][group] += family == row.family
    for group in sorted(totals, key=lambda g: (g != "all", g)):
        cells = "  ".join(f"{name} {hits[name][group]:>4}" for name in hits)
        print(f"{group:<14} n={totals[group]:>4}  {cells}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", type=int, default=0, help="cross-validate with this many folds")
    parser.add_argument(
        "--blends",
        default="",
        help="extra say:none:firm:sure settings to compare with kmidi.affect's, comma-separated",
    )
    parser.add_argument("--data", type=Path, default=TRAIN_DIR)
    args = parser.parse_args(argv)
    rows = training_rows(args.data)
    dev = development_rows(rows)
    print(f"{len(rows)} training sentences, {len(dev)} development sentences")
    if args.cv:
        extra = [Blend(*map(float, item.split(":"))) for item in args.blends.split(",") if item]
        blends = [Blend(), *extra]
        cross_validate(rows, dev, args.cv, blends)
        return
    reader = fit(rows + dev, sorted({row.preset for row in (*rows, *dev)}))
    OUTPUT.write_bytes(reader.to_bytes())
    print(f"{len(reader.vocabulary)} features, {OUTPUT.stat().st_size / 1e6:.2f} MB -> {OUTPUT}")


if __name__ == "__main__":
    main()
