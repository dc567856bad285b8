"""kmidi: an emotional intent in, a real multi-track MIDI file out."""

from kmidi.affect import Affect, analyse_intent, analyse_text
from kmidi.compose import Composition, compose
from kmidi.emotions import catalogue
from kmidi.errors import TechnicalWishError
from kmidi.plan import Plan, build_plan
from kmidi.render import RenderedPiece, render_midi
from kmidi.theory import validate_technical

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
