"""Fit the trained reader of feeling (``kmidi.affect_model``) and the arbiter that weighs it
beside the lexicon (``kmidi.affect_arbiter``; docs/languages.md, "The trained reader").

Run: ``.venv/bin/python bench/train_affect_reader.py`` to fit both on every labelled sentence
and write ``kmidi/data/affect_reader.npz`` and ``kmidi/data/affect_arbiter.json``; ``--cv``
prints a cross-validation instead and writes nothing.

- **The reader** is fitted on the training sentences of ``bench/affect_train/`` and the
  development sentences.
- **The arbiter** is fitted on out-of-fold readings: the sentences (training and
  development together) are split into ``FOLDS`` folds, a reader is fitted on the others,
  and each held-out sentence's reading, with the lexicon's, becomes one example. Development
  sentences weigh ``DEV_WEIGHT`` times as much: they are closer to what people type than the
  training sentences, which were asked to avoid naming feelings.
- **Cross-validation** (``--cv``) reads each held-out sentence with the lexicon alone, the
  reader alone, and the analyser with the arbiter fitted on the other folds' examples.

Training sentences carry a preset. Development sentences that name only a family get the
preset the lexicon reads in that family, else the family's most common preset. The training
sentences were written by helpers working from a brief, without the project
(docs/languages.md).

Deterministic: folds come from a fixed permutation and the solver (lbfgs) starts from zeros.
scikit-learn fits (a dev dependency); kmidi itself only multiplies the saved weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent))

from affect_dev_data import dev_examples

from kmidi import affect
from kmidi.affect_arbiter import ARBITER_FILE, Arbiter, Evidence
from kmidi.affect_arbiter import features as arbiter_features
from kmidi.affect_model import (
    MODEL_FILE,
    AffectReader,
    family_shares,
    feature_values,
    features,
    inverse_document_frequency,
)
from kmidi.emotions import FAMILIES, PRESETS

ROOT = Path(__file__).resolve().parent.parent
TRAIN_DIR = ROOT / "bench" / "affect_train"
OUTPUT = ROOT / "kmidi" / "data" / MODEL_FILE
ARBITER_OUTPUT = ROOT / "kmidi" / "data" / ARBITER_FILE
MIN_DOCUMENTS = 2
"""A feature seen in fewer training sentences than this is left out of the vocabulary."""
C = 16.0
"""Inverse L2 strength of the logistic regression."""
SEED = 11
FOLDS = 5
ARBITER_C = 1.0
"""Inverse L2 strength of the arbiter's logistic regression."""
DEV_WEIGHT = 5.0
"""How much a development sentence weighs in fitting the arbiter, against a training one."""


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
    idf = np.array(
        [inverse_document_frequency(len(rows), documents[name]) for name in names],
        dtype=np.float32,
    )
    matrix = _matrix(found, vocabulary, idf)
    labels = np.array([classes.index(row.preset) for row in rows])
    weights = family_balanced([row.family for row in rows])
    model = LogisticRegression(C=C, max_iter=3000)
    model.fit(matrix, labels, sample_weight=weights)
    return AffectReader(
        classes=tuple(classes[i] for i in model.classes_),
        vocabulary=vocabulary,
        weights=np.ascontiguousarray(model.coef_.T, dtype=np.float32),
        bias=model.intercept_.astype(np.float32),
        idf=idf,
    )


def family_balanced(families: Sequence[str]) -> npt.NDArray[np.float64]:
    """Sample weights under which every family weighs the same in all: balanced by preset,
    "neutral" (one preset) would start each reading at 1/20 against joy's 3/20."""
    per_family = Counter(families)
    return np.array([len(families) / (len(per_family) * per_family[f]) for f in families])


def _matrix(
    found: Sequence[set[str]], vocabulary: dict[str, int], idf: npt.NDArray[np.float32]
) -> csr_matrix:
    indptr, indices, values = [0], [], []
    for names in found:
        known = sorted(vocabulary[name] for name in names if name in vocabulary)
        indices.extend(known)
        if known:  # a text of none of the vocabulary's features ("?") is a row of zeros
            values.extend(feature_values(idf, known).tolist())
        indptr.append(len(indices))
    return csr_matrix((values, indices, indptr), shape=(len(found), len(vocabulary)))


def reader_family(reader: AffectReader, text: str) -> str:
    return _top(family_shares(reader.probabilities(text)))


def _top(shares: dict[str, float]) -> str:
    return max(shares, key=lambda family: shares[family]) if shares else "neutral"


@dataclass(frozen=True, slots=True)
class Example:
    """One sentence as the arbiter learns from it: out-of-fold evidence and the answer."""

    row: Row
    fold: int
    evidence: Evidence


def out_of_fold(rows: Sequence[Row], classes: Sequence[str]) -> list[Example]:
    """Every sentence's evidence with a reader fitted on the other folds."""
    order = np.random.default_rng(SEED).permutation(len(rows))
    examples: list[Example | None] = [None] * len(rows)
    for fold in range(FOLDS):
        held = {int(i) for i in order[fold::FOLDS]}
        reader = fit([row for i, row in enumerate(rows) if i not in held], classes)
        for index in sorted(held):
            text = rows[index].text
            evidence = affect.arbiter_evidence(text, reader.probabilities(text))
            examples[index] = Example(rows[index], fold, evidence)
        print(f"fold {fold + 1}/{FOLDS} read", flush=True)
    return [example for example in examples if example is not None]


def fit_arbiter(examples: Sequence[Example]) -> Arbiter:
    """The arbiter's logistic regression, every family weighing the same in all."""
    families = tuple(sorted(FAMILIES))
    matrix = np.array([arbiter_features(e.evidence, families) for e in examples])
    labels = np.array([families.index(e.row.family) for e in examples])
    dev = np.array([DEV_WEIGHT if e.row.source == "dev" else 1.0 for e in examples])
    weights = family_balanced([e.row.family for e in examples]) * dev
    model = LogisticRegression(C=ARBITER_C, max_iter=3000)
    model.fit(matrix, labels, sample_weight=weights)
    return Arbiter(
        families=tuple(families[i] for i in model.classes_),
        weights=np.ascontiguousarray(model.coef_.T, dtype=np.float64),
        bias=model.intercept_.astype(np.float64),
    )


def cross_validate(examples: Sequence[Example]) -> None:
    """Each held-out sentence read by the lexicon alone, the reader alone (out of fold) and
    the analyser as ``kmidi.affect`` combines them, with the arbiter fitted on the other
    folds' examples; counts by group."""
    hits: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for fold in range(FOLDS):
        arbiter = fit_arbiter([e for e in examples if e.fold != fold])
        for example in (e for e in examples if e.fold == fold):
            row, evidence = example.row, example.evidence
            answers = {
                "lexicon": evidence.lexicon_family,
                "reader": _top(dict(evidence.reader)),
                "analyser": evidence.lexicon_family
                if affect.lexicon_stands(evidence.lexicon_family, short=evidence.short)
                else arbiter.choose(evidence)[0],
            }
            if row.source == "dev":  # a development sentence's category is its source
                groups: tuple[str, ...] = ("dev", f"dev {row.category}")
            else:
                groups = ("training", f"training {row.category}", f"training {row.language}")
            for group in groups:
                totals[group] += 1
                for name, family in answers.items():
                    hits[name][group] += family == row.family
    for group in sorted(totals, key=lambda g: (g.split()[0], len(g.split()), g)):
        cells = "  ".join(f"{name} {hits[name][group]:>5}" for name in hits)
        print(f"{group:<20} n={totals[group]:>5}  {cells}")


def digest(rows: Sequence[Row], reader_bytes: bytes) -> dict[str, str]:
    """What an arbiter was fitted on: the labelled sentences and the reader's file."""
    sentences = json.dumps([(row.text, row.preset, row.source) for row in rows]).encode()
    return {
        "sentences": hashlib.sha256(sentences).hexdigest(),
        "reader": hashlib.sha256(reader_bytes).hexdigest(),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", action="store_true", help="cross-validate; write nothing")
    parser.add_argument("--data", type=Path, default=TRAIN_DIR)
    args = parser.parse_args(argv)
    rows = training_rows(args.data)
    everything = rows + development_rows(rows)
    classes = sorted({row.preset for row in everything})
    print(f"{len(rows)} training sentences, {len(everything) - len(rows)} development sentences")
    examples = out_of_fold(everything, classes)
    if args.cv:
        cross_validate(examples)
        return
    reader_bytes = fit(everything, classes).to_bytes()
    OUTPUT.write_bytes(reader_bytes)
    print(f"reader: {OUTPUT.stat().st_size / 1e6:.2f} MB -> {OUTPUT}")
    arbiter = fit_arbiter(examples)
    ARBITER_OUTPUT.write_text(arbiter.to_json(digest(everything, reader_bytes)) + "\n")
    print(f"arbiter: {arbiter.weights.shape[0]} features -> {ARBITER_OUTPUT}")


if __name__ == "__main__":
    main()
