"""The emotion taxonomy: named presets on Russell's valence/arousal circumplex.

Presets and modifiers are data (``kmidi/data/emotions.json``), so ``GET /emotions`` can list
them and new ones need no code. This module loads and validates that file once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from importlib import resources
from types import MappingProxyType
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
class RuleBreakCue:
    """A deliberate rule break an emotion asks for once it is felt strongly enough."""

    name: str
    """One of ``kmidi.theory.RULE_BREAKS``."""
    reason: str
    """Why, in words the plan's explanations repeat."""
    min_intensity: float = 0.35


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
    rule_breaks: tuple[RuleBreakCue, ...] = ()
    """Rule breaks this emotion asks for, in order of preference."""

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
    keeps_major_home: bool = False
    """A strongly negative feeling may keep a major home key (bittersweet, hopeful)."""
    rule_breaks: tuple[RuleBreakCue, ...] = ()
    """Rule breaks the modifier asks for, after the preset's own."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TaxonomyError(ValueError):
    """The emotions data file is malformed; raised at import so a bad file never ships."""


_PRESET_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(EmotionPreset))
_MODIFIER_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Modifier))
_UNIT_FIELDS: tuple[str, ...] = (
    "dissonance",
    "note_density",
    "dynamics_floor",
    "dynamics_ceiling",
    "dynamics_variance",
    "space",
    "legato",
)
_TIMING_FEELS: frozenset[str] = frozenset(("behind", "on", "ahead"))
TEMPO_RANGE: tuple[float, float] = (40.0, 240.0)
"""Tempi any preset may take; matches the bounds of ``TechnicalWishes.bpm``."""
NEUTRAL_NAME = "neutral"
UNSTABLE_HOME_MODES: frozenset[str] = frozenset(("locrian",))
"""Modes no preset may draw as a home key (a technical wish may still ask for one)."""


def _number(where: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TaxonomyError(f"{where}: {key} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise TaxonomyError(f"{where}: {key} must be finite, got {value!r}")
    return number


def _in_range(where: str, key: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise TaxonomyError(f"{where}: {key}={value} is outside [{low}, {high}]")


def validate_preset(preset: EmotionPreset) -> None:
    """Raise TaxonomyError unless every parameter of ``preset`` is in its valid range."""
    where = f"preset {preset.name!r}"
    if not preset.name or not preset.family:
        raise TaxonomyError(f"{where}: name and family must be non-empty")
    _in_range(where, "valence", preset.valence, -1.0, 1.0)
    _in_range(where, "arousal", preset.arousal, -1.0, 1.0)
    for key in ("tempo_min", "tempo_max", "tempo_suggested"):
        _in_range(where, key, getattr(preset, key), *TEMPO_RANGE)
    if not preset.tempo_min <= preset.tempo_suggested <= preset.tempo_max:
        raise TaxonomyError(f"{where}: need tempo_min <= tempo_suggested <= tempo_max")
    if not preset.mode_weights:
        raise TaxonomyError(f"{where}: mode_weights is empty")
    for mode, weight in preset.mode_weights.items():
        if mode not in MODES:
            raise TaxonomyError(f"{where}: unknown mode {mode!r}; modes are {', '.join(MODES)}")
        if mode in UNSTABLE_HOME_MODES:
            raise TaxonomyError(f"{where}: {mode} cannot be a home key (its tonic is diminished)")
        _in_range(where, f"mode_weights[{mode}]", weight, 0.0, 1.0)
    total = sum(preset.mode_weights.values())
    if abs(total - 1.0) > 1e-6:
        raise TaxonomyError(f"{where}: mode weights sum to {total}, not 1")
    for key in ("register_low", "register_high", "register_centre"):
        _in_range(where, key, getattr(preset, key), 0, 127)
    if not preset.register_low <= preset.register_centre <= preset.register_high:
        raise TaxonomyError(f"{where}: need register_low <= register_centre <= register_high")
    _in_range(where, "harmonic_rhythm", preset.harmonic_rhythm, 0.125, 8.0)
    for key in _UNIT_FIELDS:
        _in_range(where, key, getattr(preset, key), 0.0, 1.0)
    if preset.dynamics_floor > preset.dynamics_ceiling:
        raise TaxonomyError(f"{where}: need dynamics_floor <= dynamics_ceiling")
    if preset.timing_feel not in _TIMING_FEELS:
        raise TaxonomyError(f"{where}: timing_feel must be one of {sorted(_TIMING_FEELS)}")


def _parse_preset(raw: object, index: int) -> EmotionPreset:
    """One preset of the data file, checked field by field, then as a whole."""
    if not isinstance(raw, dict):
        raise TaxonomyError(f"presets[{index}] must be an object")
    where = f"preset {raw.get('name', index)!r}"
    _check_preset_fields(where, raw)
    notes = _register_notes(where, raw)

    def num(key: str) -> float:
        return _number(where, key, raw[key])

    preset = EmotionPreset(
        name=raw["name"],
        family=raw["family"],
        description=raw["description"],
        valence=num("valence"),
        arousal=num("arousal"),
        tempo_min=num("tempo_min"),
        tempo_max=num("tempo_max"),
        tempo_suggested=num("tempo_suggested"),
        mode_weights={
            str(m): _number(where, f"mode_weights[{m}]", w) for m, w in raw["mode_weights"].items()
        },
        register_low=notes[0],
        register_high=notes[1],
        register_centre=notes[2],
        harmonic_rhythm=num("harmonic_rhythm"),
        dissonance=num("dissonance"),
        timing_feel=raw["timing_feel"],
        note_density=num("note_density"),
        dynamics_floor=num("dynamics_floor"),
        dynamics_ceiling=num("dynamics_ceiling"),
        dynamics_variance=num("dynamics_variance"),
        space=num("space"),
        legato=num("legato"),
        rule_breaks=_parse_cues(where, raw.get("rule_breaks", [])),
    )
    validate_preset(preset)
    return preset


def _check_preset_fields(where: str, raw: dict[str, Any]) -> None:
    """Every field present and none unknown; the texts strings, the mode weights an object."""
    missing = [key for key in _PRESET_FIELDS if key not in raw and key != "rule_breaks"]
    unknown = sorted(set(raw) - set(_PRESET_FIELDS))
    if missing or unknown:
        raise TaxonomyError(f"{where}: missing fields {missing}, unknown fields {unknown}")
    for key in ("name", "family", "description", "timing_feel"):
        if not isinstance(raw[key], str):
            raise TaxonomyError(f"{where}: {key} must be a string")
    if not isinstance(raw["mode_weights"], dict):
        raise TaxonomyError(f"{where}: mode_weights must be an object")


def _register_notes(where: str, raw: dict[str, Any]) -> list[int]:
    """The register's low, high and centre notes, each an integer (a bool is not one)."""
    notes: list[int] = []
    for key in ("register_low", "register_high", "register_centre"):
        if isinstance(raw[key], bool) or not isinstance(raw[key], int):
            raise TaxonomyError(f"{where}: {key} must be an integer MIDI note")
        notes.append(int(raw[key]))
    return notes


def _parse_cues(where: str, raw: object) -> tuple[RuleBreakCue, ...]:
    if not isinstance(raw, list):
        raise TaxonomyError(f"{where}: rule_breaks must be a list")
    cues = []
    for cue in raw:
        if not isinstance(cue, dict) or not {"name", "reason"} <= set(cue) <= {
            "name",
            "reason",
            "min_intensity",
        }:
            raise TaxonomyError(f"{where}: a rule break needs name, reason (and min_intensity)")
        if not isinstance(cue["name"], str) or not isinstance(cue["reason"], str):
            raise TaxonomyError(f"{where}: rule break name and reason must be strings")
        minimum = _number(where, "min_intensity", cue.get("min_intensity", 0.35))
        _in_range(where, "min_intensity", minimum, 0.0, 1.0)
        cues.append(RuleBreakCue(cue["name"], cue["reason"], minimum))
    return tuple(cues)


def _parse_modifier(raw: object, index: int) -> Modifier:
    if not isinstance(raw, dict):
        raise TaxonomyError(f"modifiers[{index}] must be an object")
    where = f"modifier {raw.get('name', index)!r}"
    unknown = sorted(set(raw) - set(_MODIFIER_FIELDS))
    if unknown or "name" not in raw or "description" not in raw:
        raise TaxonomyError(f"{where}: needs name and description; unknown fields {unknown}")
    if not isinstance(raw["name"], str) or not raw["name"]:
        raise TaxonomyError(f"{where}: name must be a non-empty string")
    if not isinstance(raw["description"], str):
        raise TaxonomyError(f"{where}: description must be a string")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("name", "description"):
            continue
        if key == "rule_breaks":
            values[key] = _parse_cues(where, value)
            continue
        if key == "keeps_major_home":
            if not isinstance(value, bool):
                raise TaxonomyError(f"{where}: keeps_major_home must be true or false")
            values[key] = value
            continue
        if key == "register_shift":
            if isinstance(value, bool) or not isinstance(value, int):
                raise TaxonomyError(f"{where}: register_shift must be an integer")
            _in_range(where, key, value, -24, 24)
            values[key] = value
            continue
        number = _number(where, key, value)
        if key.endswith("_scale"):
            _in_range(where, key, number, 0.25, 4.0)
        else:
            _in_range(where, key, number, -1.0, 1.0)
        values[key] = number
    return Modifier(name=raw["name"], description=raw["description"], **values)


def load_taxonomy(text: str) -> tuple[dict[str, EmotionPreset], dict[str, Modifier]]:
    """Parse and validate an emotions JSON document; raise TaxonomyError on any defect."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaxonomyError(f"emotions data is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise TaxonomyError("emotions data must be a JSON object")
    raw_presets = document.get("presets")
    raw_modifiers = document.get("modifiers", [])
    if not isinstance(raw_presets, list) or not raw_presets:
        raise TaxonomyError("emotions data needs a non-empty 'presets' list")
    if not isinstance(raw_modifiers, list):
        raise TaxonomyError("'modifiers' must be a list")
    presets: dict[str, EmotionPreset] = {}
    for index, raw in enumerate(raw_presets):
        preset = _parse_preset(raw, index)
        if preset.name in presets:
            raise TaxonomyError(f"duplicate preset {preset.name!r}")
        presets[preset.name] = preset
    if NEUTRAL_NAME not in presets:
        raise TaxonomyError(f"emotions data needs a {NEUTRAL_NAME!r} preset")
    modifiers: dict[str, Modifier] = {}
    for index, raw in enumerate(raw_modifiers):
        modifier = _parse_modifier(raw, index)
        if modifier.name in modifiers:
            raise TaxonomyError(f"duplicate modifier {modifier.name!r}")
        modifiers[modifier.name] = modifier
    return presets, modifiers


def _load_packaged() -> tuple[Mapping[str, EmotionPreset], Mapping[str, Modifier]]:
    text = resources.files("kmidi").joinpath("data/emotions.json").read_text(encoding="utf-8")
    presets, modifiers = load_taxonomy(text)
    return MappingProxyType(presets), MappingProxyType(modifiers)


PRESETS: Mapping[str, EmotionPreset]
"""Every preset by name, including ``neutral`` (read-only)."""
MODIFIERS: Mapping[str, Modifier]
"""Every modifier by name (read-only)."""
PRESETS, MODIFIERS = _load_packaged()
NEUTRAL: EmotionPreset = PRESETS[NEUTRAL_NAME]
"""The preset for text with no affect at all."""
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(p.family for p in PRESETS.values()))
"""Emotion families in file order (``neutral`` included)."""


def _copy(preset: EmotionPreset) -> EmotionPreset:
    # The dataclass is frozen but its dict is not; callers get their own copy.
    return replace(preset, mode_weights=dict(preset.mode_weights))


def get_preset(name: str) -> EmotionPreset:
    """The preset called ``name``; KeyError listing the known names otherwise."""
    try:
        return _copy(PRESETS[name])
    except KeyError:
        raise KeyError(f"unknown emotion {name!r}; known: {', '.join(sorted(PRESETS))}") from None


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _unit(value: float) -> float:
    return round(_clamp(value, 0.0, 1.0), 4)


def apply_modifiers(
    preset: EmotionPreset, modifiers: Iterable[str], intensity: float = 0.5
) -> EmotionPreset:
    """A new preset shaped by ``intensity`` (0..1, 0.5 = as written) then by ``modifiers``.

    Intensity moves the suggested tempo toward the preset's arousal extreme (faster for
    activated emotions, slower for deactivated ones) and widens the dynamic range upward;
    modifiers are applied in order (duplicates once). Every result is clamped to valid
    ranges. Unknown modifier names raise KeyError.
    """
    intensity = _clamp(float(intensity), 0.0, 1.0) if math.isfinite(intensity) else 0.5
    names = list(dict.fromkeys(modifiers))
    unknown = [name for name in names if name not in MODIFIERS]
    if unknown:
        raise KeyError(f"unknown modifier(s) {unknown}; known: {', '.join(sorted(MODIFIERS))}")
    shaping = _shaped_by_intensity(preset, intensity)
    for name in names:
        shaping.add(MODIFIERS[name])
    result = _shaped_preset(preset, shaping, names)
    validate_preset(result)
    return result


@dataclass(slots=True)
class _Shaping:
    """A preset's values as intensity and modifiers change them, before clamping."""

    tempo: float
    floor: float
    ceiling: float
    variance: float
    dissonance: float
    space: float
    density: float
    legato: float
    tempo_scale: float = 1.0
    shift: int = 0

    def add(self, mod: Modifier) -> None:
        self.tempo_scale *= mod.tempo_scale
        self.floor *= mod.dynamics_scale
        self.ceiling *= mod.dynamics_scale
        self.variance += mod.dynamics_variance_delta
        self.dissonance += mod.dissonance_delta
        self.space += mod.space_delta
        self.density += mod.density_delta
        self.legato += mod.legato_delta
        self.shift += mod.register_shift


def _shaped_by_intensity(preset: EmotionPreset, intensity: float) -> _Shaping:
    """``preset``'s values moved by ``intensity`` (see ``apply_modifiers``)."""
    push = (intensity - 0.5) * 2.0  # -1..1: how far from "as written"
    toward_fast = preset.arousal >= 0.0
    lo, hi, tempo = preset.tempo_min, preset.tempo_max, preset.tempo_suggested
    if (push >= 0) == toward_fast:
        tempo += abs(push) * 0.6 * (hi - tempo)
    else:
        tempo -= abs(push) * 0.6 * (tempo - lo)
    span = preset.dynamics_ceiling - preset.dynamics_floor
    # Stronger feeling lifts the floor; weaker feeling lowers the ceiling (0.5 changes neither).
    return _Shaping(
        tempo=tempo,
        floor=preset.dynamics_floor + span * 0.3 * max(push, 0.0),
        ceiling=preset.dynamics_ceiling - span * 0.4 * max(-push, 0.0),
        variance=preset.dynamics_variance * (1.0 + 0.25 * push),
        dissonance=preset.dissonance,
        space=preset.space,
        density=preset.note_density,
        legato=preset.legato,
    )


def _shaped_preset(preset: EmotionPreset, shaping: _Shaping, names: list[str]) -> EmotionPreset:
    """``preset`` with the shaped values, clamped to valid ranges, and named after them."""
    t_lo, t_hi = TEMPO_RANGE
    tempo_min = _clamp(preset.tempo_min * shaping.tempo_scale, t_lo, t_hi)
    tempo_max = _clamp(preset.tempo_max * shaping.tempo_scale, tempo_min, t_hi)
    tempo = _clamp(shaping.tempo * shaping.tempo_scale, tempo_min, tempo_max)
    ceiling = _clamp(shaping.ceiling, 0.0, 1.0)
    floor = _clamp(shaping.floor, 0.0, ceiling)
    # Shift the register as a block so its width survives; stop at the MIDI edges.
    shift = int(_clamp(shaping.shift, -preset.register_low, 127 - preset.register_high))
    suffix = "".join(f" +{name}" for name in names)
    return replace(
        preset,
        description=preset.description + suffix if suffix else preset.description,
        tempo_min=round(tempo_min, 3),
        tempo_max=round(tempo_max, 3),
        tempo_suggested=round(tempo, 3),
        mode_weights=dict(preset.mode_weights),
        register_low=preset.register_low + shift,
        register_high=preset.register_high + shift,
        register_centre=preset.register_centre + shift,
        dynamics_floor=round(floor, 4),
        dynamics_ceiling=round(ceiling, 4),
        dynamics_variance=_unit(shaping.variance),
        dissonance=_unit(shaping.dissonance),
        space=_unit(shaping.space),
        note_density=_unit(shaping.density),
        legato=_unit(shaping.legato),
    )


def modifier_catalogue() -> list[dict[str, Any]]:
    """Every modifier as a JSON-able dict."""
    return [modifier.to_dict() for modifier in MODIFIERS.values()]


def catalogue() -> list[dict[str, Any]]:
    """``GET /emotions``: every preset (``kind: "preset"``), then every modifier
    (``kind: "modifier"``), as JSON-able dicts."""
    entries: list[dict[str, Any]] = [{"kind": "preset", **p.to_dict()} for p in PRESETS.values()]
    entries.extend({"kind": "modifier", **m} for m in modifier_catalogue())
    return entries
