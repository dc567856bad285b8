"""Notes for ``?format=json``: re-rendered from the stored plan, not carried in events.

Rendering is deterministic (same plan, same bytes), so the plan alone reproduces the
piece; keeping the note list (thousands of notes) out of the results topic keeps every
result small.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Final

from kmidi.plan import Plan
from kmidi.render import render_midi

log = logging.getLogger(__name__)

_NOT_PLAN_FIELDS: Final = frozenset({"seed_source"})
"""Keys the interrogation stage adds to the plan document for people, not the renderer."""


class PlanNotRenderableError(ValueError):
    """The stored plan is not a document kmidi's renderer accepts."""


@dataclass(frozen=True, slots=True)
class RenderedNotes:
    """Every note of a piece, and whether the re-rendering matches the stored file."""

    notes: list[dict[str, Any]]
    midi_sha256: str


def render_notes(plan: dict[str, Any]) -> RenderedNotes:
    """Re-render ``plan`` and list its notes as JSON objects."""
    try:
        parsed = Plan.from_dict({k: v for k, v in plan.items() if k not in _NOT_PLAN_FIELDS})
    except (ValueError, KeyError, TypeError) as exc:
        raise PlanNotRenderableError(str(exc)) from exc
    piece = render_midi(parsed)
    return RenderedNotes(
        notes=[note._asdict() for note in piece.notes],
        midi_sha256=hashlib.sha256(piece.midi).hexdigest(),
    )
