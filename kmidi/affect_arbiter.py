"""The arbiter: a learned choice of family between the lexicon's reading and the trained
reader's (docs/languages.md, "How the two are weighed").

Both readers' family scores and what the lexicon saw that a bag of words cannot (a denial,
a context, sincere praise, a text too short to go on) are the features of a multinomial
logistic regression over the families. ``bench/train_affect_reader.py`` fits it on the
reader's out-of-fold readings of the labelled sentences and writes
``kmidi/data/affect_arbiter.json``; here it is a small matrix product.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

import numpy as np
import numpy.typing as npt

ARBITER_FILE: Final = "affect_arbiter.json"
UNKNOWN_SHARE: Final = 1e-4
"""Added to each reader share before its logarithm, so a family it gives nothing to (or a
text none of whose words it knows) is a finite, very low feature."""
WORDS_SEEN: Final = 60
"""Words counted for the length feature: longer texts count as this long."""
FIRM_CONFIDENCE: Final = 0.7
"""A lexicon reading this sure is firm (``Evidence.firm``)."""
FIRM_WORDS: Final = 5
"""Texts of this many words or fewer are too short for the trained reader to go on
(``too_short``): a feeling the lexicon read in one stands without the arbiter
(``kmidi.affect.lexicon_stands``; on cross-validation the arbiter read such texts about as
well as the lexicon, and worse on the development sentences)."""

Matrix = npt.NDArray[np.float64]


def too_short(words: int) -> bool:
    """Whether a text of ``words`` words is too short for the reader to go on."""
    return words <= FIRM_WORDS


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the arbiter weighs for one text."""

    reader: Mapping[str, float]
    """The trained reader's share per family (empty: it knows none of the text's words)."""
    lexicon: Mapping[str, float]
    """The lexicon's score per family."""
    lexicon_family: str
    lexicon_confidence: float
    negated: bool
    contexts: bool
    sincere: bool
    """Praise the sarcasm reader judged sincere."""
    words: int

    @property
    def short(self) -> bool:
        """Too few words for the reader to go on (``too_short``)."""
        return too_short(self.words)

    @property
    def unseen(self) -> bool:
        """The lexicon read what a bag of words cannot: a short text, a denied feeling, a
        context that turns words, or praise judged sincere."""
        return self.short or self.negated or self.contexts or self.sincere

    @property
    def firm(self) -> bool:
        """The lexicon read a feeling sure of itself, or through what the reader misses."""
        return self.lexicon_family != "neutral" and (
            self.lexicon_confidence >= FIRM_CONFIDENCE or self.unseen
        )


_FLAGS: Final[tuple[tuple[str, Callable[[Evidence], float]], ...]] = (
    ("unseen", lambda e: float(e.unseen)),
    ("short", lambda e: float(e.short)),
    ("negated", lambda e: float(e.negated)),
    ("contexts", lambda e: float(e.contexts)),
    ("sincere", lambda e: float(e.sincere)),
    ("firm", lambda e: float(e.firm)),
    ("confidence", lambda e: e.lexicon_confidence),
    ("lexicon neutral", lambda e: float(e.lexicon_family == "neutral")),
    ("words", lambda e: min(e.words, WORDS_SEEN) / WORDS_SEEN),
)
"""The features after the two readers' scores: each one's name and value."""


def feature_names(families: tuple[str, ...]) -> list[str]:
    """The features' names, in the order of ``features``."""
    flags = [name for name, _ in _FLAGS]
    return [f"reader {f}" for f in families] + [f"lexicon {f}" for f in families] + flags


def features(evidence: Evidence, families: tuple[str, ...]) -> list[float]:
    """The reader's log-shares, the lexicon's scores squashed by tanh, then the flags."""
    reader = [math.log(evidence.reader.get(f, 0.0) + UNKNOWN_SHARE) for f in families]
    lexicon = [math.tanh(evidence.lexicon.get(f, 0.0)) for f in families]
    return reader + lexicon + [value(evidence) for _, value in _FLAGS]


@dataclass(frozen=True, slots=True)
class Arbiter:
    """A fitted arbiter: ``weights[feature]`` holds one logit per family."""

    families: tuple[str, ...]
    weights: Matrix
    bias: Matrix

    def posteriors(self, evidence: Evidence) -> dict[str, float]:
        """Each family's probability."""
        logits = np.asarray(features(evidence, self.families)) @ self.weights + self.bias
        exp = np.exp(logits - logits.max())
        shares = exp / exp.sum()
        return {family: float(share) for family, share in zip(self.families, shares, strict=True)}

    def choose(self, evidence: Evidence) -> tuple[str, float]:
        """The most probable family (the first of equals) and its probability."""
        posteriors = self.posteriors(evidence)
        family = max(posteriors, key=posteriors.__getitem__)
        return family, posteriors[family]

    def to_json(self, trained_on: Mapping[str, str]) -> str:
        """The file form, with digests of what it was fitted on (``trained_on``)."""
        return json.dumps(
            {
                "families": list(self.families),
                "features": feature_names(self.families),
                "weights": self.weights.tolist(),
                "bias": self.bias.tolist(),
                "trained_on": dict(trained_on),
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> Arbiter:
        data: dict[str, Any] = json.loads(text)
        families = tuple(str(name) for name in data["families"])
        if data["features"] != feature_names(families):
            raise ValueError("the arbiter file was fitted on other features than these")
        return cls(
            families=families,
            weights=np.asarray(data["weights"], dtype=np.float64),
            bias=np.asarray(data["bias"], dtype=np.float64),
        )


def packaged_json() -> str:
    """The text of the arbiter file shipped with kmidi."""
    return resources.files("kmidi").joinpath(f"data/{ARBITER_FILE}").read_text("utf-8")


@cache
def packaged_arbiter() -> Arbiter:
    """The arbiter shipped with kmidi, loaded once on first use."""
    return Arbiter.from_json(packaged_json())
