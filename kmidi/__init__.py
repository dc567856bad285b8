"""kmidi: an emotional intent in, a real multi-track MIDI file out.

The names below are loaded on first use, so that ``kmidi --help`` and services that only
need part of the package do not pay for the lexicon (about 0.2 s) at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Eager: it is light (it loads the analyser when it runs), and a lazy name would lose to
# the submodule of the same name once anything imports ``kmidi.compose``.
from kmidi.compose import Composition, compose

if TYPE_CHECKING:
    from kmidi.affect import Affect, analyse_intent, analyse_text
    from kmidi.emotions import catalogue
    from kmidi.errors import TechnicalWishError
    from kmidi.plan import Plan, build_plan
    from kmidi.render import RenderedPiece, render_midi
    from kmidi.theory import validate_technical

_HOME: dict[str, str] = {
    "Affect": "kmidi.affect",
    "analyse_intent": "kmidi.affect",
    "analyse_text": "kmidi.affect",
    "catalogue": "kmidi.emotions",
    "TechnicalWishError": "kmidi.errors",
    "Plan": "kmidi.plan",
    "build_plan": "kmidi.plan",
    "RenderedPiece": "kmidi.render",
    "render_midi": "kmidi.render",
    "validate_technical": "kmidi.theory",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'kmidi' has no attribute {name!r}")
    return getattr(import_module(_HOME[name]), name)


__all__ = [
    "Affect",
    "Composition",
    "Plan",
    "RenderedPiece",
    "TechnicalWishError",
    "analyse_intent",
    "analyse_text",
    "build_plan",
    "catalogue",
    "compose",
    "render_midi",
    "validate_technical",
]
