"""The emotion taxonomy: named presets on Russell's valence/arousal circumplex.

Presets and modifiers are data (``kmidi/data/emotions.json``), so ``GET /emotions`` can list
them and new ones need no code. This module loads and validates that file once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

TimingFeel = Literal["behind", "on", "ahead"]
MODES: tuple[str, ...] = (
    "ionian",
    "dorian",
    "phrygian",
    "lydian",
    "mixolydian",
    "aeolian",
    "locrian",
)
"""Church modes; "major" is ionian and "minor" is aeolian everywhere in kmidi."""


@dataclass(frozen=True, slots=True)
class EmotionPreset:
    """Musical parameters of one named emotion."""

    name: str
    family: str
    """Emotion family used for evaluation and grouping (e.g. grief and loneliness: sadness)."""
    description: str
    valence: float
    """-1 (unpleasant) .. 1 (pleasant)."""
    arousal: float
    """-1 (deactivated) .. 1 (activated)."""
    tempo_min: float
    tempo_max: float
    tempo_suggested: float
    mode_weights: dict[str, float]
    """Weights over MODES (keys are mode names); they sum to 1."""
    register_low: int
    """Lowest MIDI note of the melodic register."""
    register_high: int
    register_centre: int
    harmonic_rhythm: float
    """Chords per bar."""
    dissonance: float
    """0 (consonant triads) .. 1 (clusters, tritones, unresolved tensions)."""
    timing_feel: TimingFeel
    note_density: float
    """0 (sparse, long notes) .. 1 (busy, short notes)."""
    dynamics_floor: float
    """Softest dynamic, 0..1 of the MIDI velocity range."""
    dynamics_ceiling: float
    dynamics_variance: float
    space: float
    """Probability that a melodic slot is a rest, 0..1."""
    legato: float
    """0 (staccato) .. 1 (fully connected notes)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Modifier:
    """A layer on a preset that changes parameters predictably (e.g. suppressed)."""

    name: str
    description: str
    tempo_scale: float = 1.0
    dynamics_scale: float = 1.0
    dynamics_variance_delta: float = 0.0
    dissonance_delta: float = 0.0
    space_delta: float = 0.0
    density_delta: float = 0.0
    register_shift: int = 0
    legato_delta: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
