"""The music domain the stages call, imported in one place (``kmidi`` is pure and sync).

Analysing, planning and rendering are traced here (``service_common.telemetry``: a span
each when tracing is on), so ``kmidi`` stays free of OpenTelemetry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from kmidi import affect, plan, render
from kmidi.affect import Affect
from kmidi.errors import TechnicalWishError
from kmidi.interrogation import ConversationState, advance
from kmidi.plan import Plan
from kmidi.render import RenderedPiece
from service_common import telemetry

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

P = ParamSpec("P")
R = TypeVar("R")


def _traced(name: str, function: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(function)
    def traced(*args: P.args, **kwargs: P.kwargs) -> R:
        with telemetry.span(name):
            return function(*args, **kwargs)

    return traced


analyse_intent = _traced("analyse intent", affect.analyse_intent)
build_plan = _traced("compose plan", plan.build_plan)
render_midi = _traced("render midi", render.render_midi)
