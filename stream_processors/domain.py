"""The music domain the stages call, imported in one place (``kmidi`` is pure and sync)."""

from __future__ import annotations

from kmidi.affect import Affect, analyse_intent
from kmidi.errors import TechnicalWishError
from kmidi.interrogation import ConversationState, advance
from kmidi.plan import Plan, build_plan
from kmidi.render import RenderedPiece, render_midi

__all__ = [
    "Affect",
    "ConversationState",
    "Plan",
    "RenderedPiece",
    "TechnicalWishError",
    "advance",
    "analyse_intent",
    "build_plan",
    "render_midi",
]
