"""Intent in, piece out: analyse the text, plan the music, render the MIDI."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kmidi.affect import Affect
    from kmidi.plan import Plan
    from kmidi.render import RenderedPiece
    from schemas.intent import Intent

MAX_SEED = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Composition:
    """A composed piece with everything needed to explain and reproduce it."""

    affect: Affect
    plan: Plan
    piece: RenderedPiece
    seed: int

    @property
    def midi(self) -> bytes:
        return self.piece.midi

    def to_document(self, *, include_midi: bool = False) -> dict[str, Any]:
        """JSON-able summary: affect, plan, notes, seed, duration (and MIDI as base64)."""
        doc: dict[str, Any] = {
            "seed": self.seed,
            "duration_seconds": self.piece.duration_seconds,
            "affect": self.affect.to_dict(),
            "plan": self.plan.to_dict(),
            "notes": [note._asdict() for note in self.piece.notes],
        }
        if include_midi:
            doc["midi_base64"] = base64.b64encode(self.piece.midi).decode("ascii")
        return doc


def new_seed() -> int:
    """A fresh seed in 0..2**31-1 from the OS's entropy (reported so pieces can be replayed)."""
    return secrets.randbelow(MAX_SEED + 1)


def compose(intent: Intent, *, seed: int | None = None) -> Composition:
    """Compose ``intent``; the same intent and seed always give the same bytes.

    Raises ``TechnicalWishError`` for a technical wish that cannot be honoured.
    """
    # Loaded here, not at import: the lexicon behind the analyser takes 0.2 s to build,
    # which `kmidi --help` and the CLI's other commands should not pay.
    from kmidi.affect import analyse_intent
    from kmidi.plan import build_plan
    from kmidi.render import render_midi
    from kmidi.theory import validate_technical

    validate_technical(intent.technical)
    if seed is None:
        seed = new_seed()
    elif not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed {seed} outside 0..{MAX_SEED}")
    affect = analyse_intent(intent)
    plan = build_plan(intent, affect, seed=seed)
    return Composition(affect=affect, plan=plan, piece=render_midi(plan), seed=seed)
