"""A trained reader of feeling: a linear model over word and character n-grams that gives
each preset a probability, read beside the lexicon (docs/languages.md, "The trained reader").

The weights ship in the package (``kmidi/data/affect_reader.npz``) and load on first use,
never at import; ``bench/train_affect_reader.py`` fits them with scikit-learn from the
labelled sentences in ``bench/affect_train/`` and the development sentences. Only numpy runs
here: the fitted model is a vocabulary, a weight matrix and a bias.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from io import BytesIO
from itertools import pairwise
from typing import Final

import numpy as np
import numpy.typing as npt

from kmidi.emotions import PRESETS

MODEL_FILE: Final = "affect_reader.npz"
CHAR_NGRAMS: Final = (3, 4, 5)
"""Lengths of the character n-grams taken inside each word (with ``<`` and ``>`` marking
its ends): they carry stems across inflections, languages and typos."""

_TOKEN = re.compile(
    r"[^\W\d_]+(?:['’][^\W\d_]+)*"  # words, with inner apostrophes ("don't", "l'été")
    r"|[!?]{2,}|\.{3,}|…"  # "!!", "?!", "..."
    r"|[\u2600-\u27bf\U0001f000-\U0001faff]"  # emoji and pictographs, one each
)
_ELONGATED = re.compile(r"(\w)\1{2,}")

Vector = npt.NDArray[np.float32]


def tokens(text: str) -> list[str]:
    """Lower-cased tokens; letters stretched for emphasis ("sooo") are cut to two."""
    folded = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    return [_ELONGATED.sub(r"\1\1", token) for token in _TOKEN.findall(folded)]


def inverse_document_frequency(documents: int, containing: int) -> float:
    """How much a feature found in ``containing`` of ``documents`` training sentences
    counts: rare n-grams more than common ones (scikit-learn's smoothed idf)."""
    return math.log((1 + documents) / (1 + containing)) + 1.0


def feature_values(idf: Vector, rows: list[int]) -> Vector:
    """The values of a text's known features (vocabulary ``rows``): their idf, scaled so the
    row has unit length, so a long text does not outvote a short one by size. Fitting uses
    it too."""
    values: Vector = idf[rows]
    scaled: Vector = values / np.float32(math.sqrt(float(np.dot(values, values))))
    return scaled


def family_shares(shares: dict[str, float]) -> dict[str, float]:
    """Preset shares (probabilities or lexicon scores) summed by family, in the order the
    families first appear."""
    families: dict[str, float] = {}
    for preset, share in shares.items():
        family = PRESETS[preset].family
        families[family] = families.get(family, 0.0) + share
    return families


def features(text: str) -> set[str]:
    """The n-grams a text is read by: words, word pairs, and character n-grams of words."""
    words = tokens(text)
    found = {f"w {word}" for word in words}
    found.update(f"b {first} {second}" for first, second in pairwise(words))
    for word in words:
        if len(word) < 2 or not word[0].isalpha():
            continue
        padded = f"<{word}>"
        for size in CHAR_NGRAMS:
            found.update(f"c {padded[i : i + size]}" for i in range(len(padded) - size + 1))
    return found


@dataclass(frozen=True, slots=True)
class AffectReader:
    """A fitted reader: ``weights[feature_index]`` holds one logit per class, and
    ``idf[feature_index]`` what the feature counts (``feature_values``)."""

    classes: tuple[str, ...]
    vocabulary: dict[str, int]
    weights: Vector
    bias: Vector
    idf: Vector

    def probabilities(self, text: str) -> dict[str, float]:
        """Each class's probability for ``text``; empty when no feature of it is known."""
        rows = self.indices(features(text))
        if not rows:
            return {}
        logits = feature_values(self.idf, rows) @ self.weights[rows] + self.bias
        exp = np.exp(logits - logits.max())
        shares = exp / exp.sum()
        return {name: float(share) for name, share in zip(self.classes, shares, strict=True)}

    def indices(self, found: Iterable[str]) -> list[int]:
        """Vocabulary rows of the known features, in a fixed order."""
        return sorted(self.vocabulary[name] for name in found if name in self.vocabulary)

    def to_bytes(self) -> bytes:
        """The ``.npz`` form this module loads (float16 weights: a quarter of the size)."""
        names = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        buffer = BytesIO()
        np.savez_compressed(
            buffer,
            classes=np.array(self.classes),
            vocabulary=np.frombuffer("\n".join(names).encode(), dtype=np.uint8),
            weights=self.weights.astype(np.float16),
            bias=self.bias.astype(np.float32),
            idf=self.idf.astype(np.float32),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> AffectReader:
        with np.load(BytesIO(data), allow_pickle=False) as npz:
            names = npz["vocabulary"].tobytes().decode().split("\n")
            return cls(
                classes=tuple(str(name) for name in npz["classes"]),
                vocabulary={name: index for index, name in enumerate(names)},
                weights=npz["weights"].astype(np.float32),
                bias=npz["bias"].astype(np.float32),
                idf=npz["idf"].astype(np.float32),
            )


@cache
def packaged_reader() -> AffectReader:
    """The reader shipped with kmidi, loaded once on first use."""
    data = resources.files("kmidi").joinpath(f"data/{MODEL_FILE}").read_bytes()
    return AffectReader.from_bytes(data)
