"""Sentence embeddings from the weights that the ``wordllama`` wheel ships (``l2_supercat``,
256 dimensions): each token's vector, averaged, scaled to unit length.

An evaluation tool, not part of kmidi: ``wordllama`` is not a dependency (docs/languages.md,
"A second reader: evaluated, not used"); install it by hand (``pip install
wordllama==0.4.0.post1``) to run ``bench/train_affect_model.py``.

Only the two packaged files are read (``weights/l2_supercat_256.safetensors`` and
``tokenizers/l2_supercat_tokenizer_config.json``), with ``tokenizers`` and ``safetensors``;
the ``wordllama`` package itself is never imported. Its ``WordLlama.load()`` looks for the
tokenizer under ``tokenizer/`` (singular), misses the packaged one and fetches it from a
model hub; importing it also configures the root logger. Nothing here touches the network.
Everything is loaded on first use, never at import.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from tokenizers import Tokenizer

Vector = npt.NDArray[np.float32]
WEIGHTS = "weights/l2_supercat_256.safetensors"
TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
DIMENSIONS = 256


class EmbeddingUnavailableError(RuntimeError):
    """The ``wordllama`` wheel (and so its packaged weights) is not installed."""


def package_dir() -> Path:
    """Where the ``wordllama`` wheel is installed, found without importing it."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingUnavailableError("the wordllama package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def packaged_files() -> tuple[Path, Path]:
    """The weights and tokenizer files inside the wheel; an error if either is missing."""
    root = package_dir()
    files = (root / WEIGHTS, root / TOKENIZER)
    for path in files:
        if not path.is_file():
            raise EmbeddingUnavailableError(f"{path} is not in the installed wordllama wheel")
    return files


@cache
def _model() -> tuple[Vector, Tokenizer]:
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    weights, tokenizer = packaged_files()
    table = load_file(str(weights))["embedding.weight"].astype(np.float32)
    return table, Tokenizer.from_file(str(tokenizer))


def embed(text: str) -> Vector:
    """The text's unit-length embedding; zeros for a text with no tokens."""
    table, tokenizer = _model()
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    if not ids:
        return np.zeros(DIMENSIONS, dtype=np.float32)
    vector: Vector = table[ids].mean(axis=0)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0.0 else vector
