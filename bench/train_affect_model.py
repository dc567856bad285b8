"""Train and cross-validate an embedding reader of affect beside the lexicon (docs/languages.md,
"A second reader: evaluated, not used").

Run: ``.venv/bin/python bench/train_affect_model.py [--folds 5]``, with ``wordllama`` installed
by hand (``pip install wordllama==0.4.0.post1``: not a kmidi dependency).

1. Every development sentence (``bench/affect_dev_data.py``) is embedded
   (``kmidi.embedding``) and read by the lexicon (``kmidi.affect.analyse_text``).
2. k-fold cross-validation: a softmax regression over the families is trained on k-1 folds
   and tested on the held-out fold; each way of combining it with the lexicon is scored on
   the held-out sentences only. The lexicon was tuned on all of these sentences, so its own
   figure here flatters it; the fresh batches are the fairer test.
3. The fresh batches not yet recorded (``bench/affect_fresh.jsonl``) are read by a model
   trained on all development sentences: their first pass. Write a new batch there,
   labelled, before running anything; once its first pass is recorded, mark its rows
   ``"recorded": true`` and it becomes development data.

Deterministic: folds come from a fixed permutation and training is full-batch gradient
descent from zeros.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))

from affect_dev_data import Example, dev_examples, fresh_rows
from affect_embedding import embed

from kmidi.affect import Affect, analyse_text
from kmidi.emotions import PRESETS

Matrix = npt.NDArray[np.float64]
FAMILIES = sorted({p.family for p in PRESETS.values()} | {"neutral"})
SCALE = 8.0
"""Unit embeddings times this: the logits need room to separate."""
STEPS = 600
RATE = 0.5
L2 = 1e-3
SEED = 9


@dataclass(frozen=True, slots=True)
class Reading:
    """A sentence's lexicon reading, reduced to what combining needs."""

    family: str
    confidence: float
    unsure: bool


def family_of(affect: Affect) -> str:
    return "neutral" if affect.primary == "neutral" else PRESETS[affect.primary].family


def lexicon_reading(text: str) -> Reading:
    affect = analyse_text(text)
    return Reading(family_of(affect), affect.confidence, affect.unsure)


def features(texts: list[str]) -> Matrix:
    rows = np.stack([embed(text).astype(np.float64) for text in texts]) * SCALE
    return np.hstack([rows, np.ones((len(texts), 1))])


def train(x: Matrix, labels: npt.NDArray[np.int64]) -> Matrix:
    """Softmax regression by full-batch gradient descent from zeros, balanced by class."""
    classes = len(FAMILIES)
    onehot = np.eye(classes)[labels]
    counts = np.maximum(onehot.sum(axis=0), 1.0)
    sample_weight = (len(labels) / (classes * counts))[labels][:, None]
    weights = np.zeros((x.shape[1], classes))
    for _ in range(STEPS):
        probs = softmax(x @ weights)
        grad = x.T @ ((probs - onehot) * sample_weight) / len(labels) + L2 * weights
        weights -= RATE * grad
    return weights


def softmax(logits: Matrix) -> Matrix:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    result: Matrix = shifted / shifted.sum(axis=1, keepdims=True)
    return result


Rule = Callable[[Reading, str, float], str]
"""(lexicon reading, model family, model probability) -> the combined family."""


def _gate(threshold: float, *, when_unsure: bool) -> Rule:
    def rule(lex: Reading, model: str, prob: float) -> str:
        open_to_model = lex.unsure if when_unsure else lex.family == "neutral"
        return model if open_to_model and prob >= threshold else lex.family

    return rule


def _asymmetric(over_neutral: float, over_unsure: float) -> Rule:
    """A neutral lexicon reading yields only to a surer model: errands and musical
    requests are often read as a feeling by the model."""

    def rule(lex: Reading, model: str, prob: float) -> str:
        if lex.family == "neutral":
            return model if prob >= over_neutral else lex.family
        return model if lex.unsure and prob >= over_unsure else lex.family

    return rule


RULES: dict[str, Rule] = {
    "lexicon alone": lambda lex, model, prob: lex.family,
    "model alone": lambda lex, model, prob: model,
    "model if lexicon neutral": _gate(0.0, when_unsure=False),
    "model if lexicon neutral, p>=0.5": _gate(0.5, when_unsure=False),
    "model if lexicon unsure": _gate(0.0, when_unsure=True),
    "model if lexicon unsure, p>=0.5": _gate(0.5, when_unsure=True),
    "model if lexicon unsure, p>=0.7": _gate(0.7, when_unsure=True),
    "model if unsure p>=0.5, neutral p>=0.7": _asymmetric(0.7, 0.5),
    "model if p > lexicon confidence": lambda lex, model, prob: (
        model if prob > lex.confidence else lex.family
    ),
}


def predict(weights: Matrix, x: Matrix) -> tuple[list[str], list[float]]:
    probs = softmax(x @ weights)
    best = probs.argmax(axis=1)
    return [FAMILIES[i] for i in best], [float(probs[i, j]) for i, j in enumerate(best)]


def score(
    truth: list[str], lex: list[Reading], model: list[str], probs: list[float]
) -> dict[str, int]:
    return {
        name: sum(rule(r, m, p) == t for t, r, m, p in zip(truth, lex, model, probs, strict=True))
        for name, rule in RULES.items()
    }


def cross_validate(examples: list[Example], x: Matrix, lex: list[Reading], folds: int) -> None:
    labels = np.array([FAMILIES.index(e.family) for e in examples])
    order = np.random.default_rng(SEED).permutation(len(examples))
    totals = dict.fromkeys(RULES, 0)
    by_source: dict[str, dict[str, int]] = {}
    for fold in range(folds):
        test = order[fold::folds]
        train_idx = np.setdiff1d(order, test)
        weights = train(x[train_idx], labels[train_idx])
        model, probs = predict(weights, x[test])
        truth = [examples[i].family for i in test]
        for name, right in score(truth, [lex[i] for i in test], model, probs).items():
            totals[name] += right
        for j, i in enumerate(test):
            tally = by_source.setdefault(examples[i].source, {"n": 0, "lex": 0, "best": 0})
            tally["n"] += 1
            tally["lex"] += lex[i].family == truth[j]
            tally["best"] += RULES[BEST](lex[i], model[j], probs[j]) == truth[j]
    n = len(examples)
    print(f"\n{folds}-fold cross-validation on {n} development sentences (family right):")
    for name, right in totals.items():
        print(f"  {name:40s} {right:4d}/{n} {100 * right / n:5.1f} %")
    print(f"  by source, lexicon alone vs {BEST!r}:")
    for source, counts in by_source.items():
        print(f"    {source:10s} {counts['lex']:4d} -> {counts['best']:4d} of {counts['n']}")


BEST = "model if unsure p>=0.5, neutral p>=0.7"
"""The combination whose first pass is shown for a new fresh batch, and per source above."""


def fresh_first_pass(weights: Matrix) -> None:
    rows = [row for row in fresh_rows(recorded_only=False) if not row.get("recorded")]
    if not rows:
        print("\nno unrecorded fresh batch")
        return
    texts = [str(row["text"]) for row in rows]
    truth = [str(row["family"]) for row in rows]
    lex = [lexicon_reading(text) for text in texts]
    model, probs = predict(weights, features(texts))
    print(f"\nfirst pass of the {len(rows)} unrecorded fresh sentences (family right):")
    for name, right in score(truth, lex, model, probs).items():
        print(f"  {name:40s} {right:4d}/{len(rows)}")
    for row, r, m, p in zip(rows, lex, model, probs, strict=True):
        combined = RULES[BEST](r, m, p)
        if combined != row["family"] or r.family != row["family"]:
            mark = "fixed" if combined == row["family"] else "MISS"
            print(
                f"  {mark:5s} {row['family']:10s} lex {r.family:10s} model {m:10s} {p:.2f}"
                f" | {str(row['text'])[:60]}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    examples = dev_examples()
    x = features([e.text for e in examples])
    lex = [lexicon_reading(e.text) for e in examples]
    cross_validate(examples, x, lex, args.folds)
    labels = np.array([FAMILIES.index(e.family) for e in examples])
    weights = train(x, labels)
    fresh_first_pass(weights)


if __name__ == "__main__":
    main()
