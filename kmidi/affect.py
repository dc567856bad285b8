"""Text → affect: what a person wrote, read as emotion, intensity, valence and arousal."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Affect:
    """The emotional reading of an intent, with the words that drove it."""

    primary: str
    """Name of a preset in the taxonomy, or "neutral" only for text with no affect at all."""
    secondary: str | None
    intensity: float
    """0..1."""
    valence: float
    """-1..1."""
    arousal: float
    """-1..1."""
    confidence: float
    """0..1."""
    modifiers: tuple[str, ...] = ()
    """Names of modifiers detected (e.g. "suppressed", "cathartic_release")."""
    evidence: tuple[str, ...] = field(default=())
    """Words and phrases from the text that drove the reading, in order of weight."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["modifiers"] = list(self.modifiers)
        data["evidence"] = list(self.evidence)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Affect:
        return cls(
            primary=str(data["primary"]),
            secondary=data.get("secondary"),
            intensity=float(data["intensity"]),
            valence=float(data["valence"]),
            arousal=float(data["arousal"]),
            confidence=float(data["confidence"]),
            modifiers=tuple(data.get("modifiers", ())),
            evidence=tuple(data.get("evidence", ())),
        )
