"""Genres: General MIDI instruments, drum grooves, comping and bass styles, rhythm feel.

The data lives in ``kmidi/data/genres.json``; this module loads and checks it once.
Drum grids are strings with one character per sixteenth note of a bar: "X" accent,
"x" normal hit, "o" ghost note, "." rest.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

from kmidi.form import FORMS

COMPING_STYLES: tuple[str, ...] = (
    "sustain", "pulse", "eighths", "arpeggio", "ostinato", "offbeat", "stabs", "charleston",
    "strum",
)  # fmt: skip
BASS_STYLES: tuple[str, ...] = (
    "pedal", "root", "root_fifth", "walking", "eighths", "syncopated", "octave_pulse",
)  # fmt: skip
ENDINGS: tuple[str, ...] = ("held", "ritardando")
"""How a piece ends: its last chord held in time, or slowing over its last two bars."""
VOICINGS: tuple[str, ...] = ("close", "power")
"""How comping voices chords: close triads/sevenths, or root-fifth-octave power chords."""
INTRO_PARTS: tuple[str, ...] = ("harmony", "bass", "pad", "drums")
"""Parts an intro may use: the melody always waits for the first phrase."""
KICK, SNARE = 36, 38
GRID_CHARS = frozenset("Xxo.")


@dataclass(frozen=True, slots=True)
class DrumPattern:
    """One bar of drums on a sixteenth-note grid (length = sixteenths per bar)."""

    kick: str
    snare: str
    hat: str
    snare_note: int
    hat_note: int

    @property
    def steps(self) -> int:
        return len(self.kick)


@dataclass(frozen=True, slots=True)
class GenreSpec:
    """How a genre sounds: instruments, drums, comping, bass and feel."""

    name: str
    harmony_program: int
    bass_program: int
    melody_program: int
    pad_program: int | None
    drum_style: str | None
    low_arousal_drum_style: str | None
    drums_min_arousal: float
    comping: str
    bass_style: str
    form: str
    """Phrase plan: "song" (verse/chorus), "aaba", "through" (through-composed)."""
    ending: str
    intro: tuple[str, ...]
    """Parts that play the intro, before the melody enters."""
    voicing: str
    swing: float
    """Delay of off-beat eighths in beats: 0 straight, 1/6 a triplet feel."""
    humanize: float
    """Standard deviation of timing jitter in beats."""
    sevenths: bool
    """Whether generated progressions use seventh chords."""
    applied_dominants: float
    """Chance that a chord inside a later section's phrase becomes the applied dominant of
    the chord after it (V7/ii before ii); 0 keeps the progressions diatonic."""
    affinity_valence: float
    affinity_arousal: float


class GenreDataError(ValueError):
    """The genres data file is malformed; raised at import so a bad file never ships."""


def _program(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 127:
        raise GenreDataError(f"{where}: GM program must be an int 0..127, got {value!r}")
    return int(value)


def _load() -> tuple[Mapping[str, GenreSpec], Mapping[str, Mapping[str, Any]]]:
    """The genres and drum styles of ``data/genres.json``, checked (GenreDataError)."""
    text = resources.files("kmidi").joinpath("data/genres.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    styles = _drum_styles(doc["drum_styles"])
    genres = {
        name: _checked_genre(_genre_spec(name, raw), styles) for name, raw in doc["genres"].items()
    }
    return MappingProxyType(genres), MappingProxyType(styles)


def _drum_styles(raw: dict[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Each drum style, its grids checked: every row the meter's sixteenths long, in
    ``GRID_CHARS``."""
    styles: dict[str, Mapping[str, Any]] = {}
    for name, style in raw.items():
        for meter, grid in style["patterns"].items():
            num, den = (int(x) for x in meter.split("/"))
            steps = num * 16 // den
            for row in ("kick", "snare", "hat"):
                cells = grid[row]
                if len(cells) != steps or not set(cells) <= GRID_CHARS:
                    raise GenreDataError(f"drum style {name} {meter} {row}: bad grid {cells!r}")
        styles[name] = MappingProxyType(style)
    return styles


def _genre_spec(name: str, raw: dict[str, Any]) -> GenreSpec:
    """One genre's entry as a ``GenreSpec`` (its GM programs checked)."""
    where = f"genre {name}"
    progs = raw["programs"]
    drums = raw["drums"]
    return GenreSpec(
        name=name,
        harmony_program=_program(progs["harmony"], where),
        bass_program=_program(progs["bass"], where),
        melody_program=_program(progs["melody"], where),
        pad_program=None if progs["pad"] is None else _program(progs["pad"], where),
        drum_style=None if drums is None else drums["style"],
        low_arousal_drum_style=None if drums is None else drums["low_arousal_style"],
        drums_min_arousal=1.1 if drums is None else float(drums["min_arousal"]),
        comping=raw["comping"],
        bass_style=raw["bass_style"],
        form=raw["form"],
        ending=raw.get("ending", "held"),
        intro=tuple(raw["intro"]),
        voicing=raw.get("voicing", "close"),
        swing=float(raw["swing"]),
        humanize=float(raw["humanize"]),
        sevenths=bool(raw["sevenths"]),
        applied_dominants=float(raw.get("applied_dominants", 0.0)),
        affinity_valence=float(raw["affinity"]["valence"]),
        affinity_arousal=float(raw["affinity"]["arousal"]),
    )


def _checked_genre(spec: GenreSpec, styles: Mapping[str, Mapping[str, Any]]) -> GenreSpec:
    """``spec``, once its styles, form, intro and ranges are known to be valid."""
    where = f"genre {spec.name}"
    for style in (spec.drum_style, spec.low_arousal_drum_style):
        if style is not None and style not in styles:
            raise GenreDataError(f"{where}: unknown drum style {style!r}")
    if spec.comping not in COMPING_STYLES or spec.bass_style not in BASS_STYLES:
        raise GenreDataError(f"{where}: unknown comping or bass style")
    if spec.form not in FORMS or spec.voicing not in VOICINGS or spec.ending not in ENDINGS:
        raise GenreDataError(f"{where}: unknown form, voicing or ending")
    if not spec.intro or not set(spec.intro) <= set(INTRO_PARTS):
        raise GenreDataError(f"{where}: intro must name some of {', '.join(INTRO_PARTS)}")
    if not 0.0 <= spec.applied_dominants <= 1.0:
        raise GenreDataError(f"{where}: applied_dominants must be 0..1")
    if not 0.0 <= spec.swing <= 0.34:
        raise GenreDataError(f"{where}: swing must be 0..1/3 beat")
    return spec


GENRE_SPECS: Mapping[str, GenreSpec]
DRUM_STYLES: Mapping[str, Mapping[str, Any]]
GENRE_SPECS, DRUM_STYLES = _load()


def get_genre(name: str) -> GenreSpec:
    """The genre called ``name``; KeyError listing the known ones otherwise."""
    try:
        return GENRE_SPECS[name]
    except KeyError:
        raise KeyError(f"unknown genre {name!r}; known: {', '.join(GENRE_SPECS)}") from None


def beat_groups(numerator: int, denominator: int) -> list[int]:
    """How a bar groups into felt beats, in sixteenths (7/8 → 2+2+3 eighths → [4, 4, 6])."""
    if denominator == 8:
        eighths = {6: [3, 3], 7: [2, 2, 3], 9: [3, 3, 3], 12: [3, 3, 3, 3]}.get(
            numerator, [3] * (numerator // 3) + ([numerator % 3] if numerator % 3 else [])
        )
        return [2 * e for e in eighths]
    quarters = {5: [3, 2]}.get(numerator, [1] * numerator)
    if numerator == 5:
        return [4 * q for q in quarters]
    return [4] * numerator


def drum_pattern(style: str, numerator: int, denominator: int) -> DrumPattern:
    """The style's grid for this meter, written out or derived from the beat grouping."""
    raw = DRUM_STYLES[style]
    meter = f"{numerator}/{denominator}"
    grid = raw["patterns"].get(meter)
    if grid is None:
        steps = numerator * 16 // denominator
        kick, snare, hat = ["."] * steps, ["."] * steps, ["."] * steps
        pos = 0
        groups = beat_groups(numerator, denominator)
        base = raw["patterns"]["4/4"]
        for index, size in enumerate(groups):
            if index == 0:
                kick[pos] = "X"
            elif index == len(groups) - 1 or index % 2 == 1:
                snare[pos] = "X" if "X" in base["snare"] else base["snare"].strip(".")[0]
            else:
                kick[pos] = "x"
            pos += size
        hat_char = next((c for c in base["hat"] if c != "."), "x")
        for step in range(0, steps, 2):
            hat[step] = hat_char
        grid = {"kick": "".join(kick), "snare": "".join(snare), "hat": "".join(hat)}
    return DrumPattern(
        kick=grid["kick"],
        snare=grid["snare"],
        hat=grid["hat"],
        snare_note=int(raw["snare_note"]),
        hat_note=int(raw["hat_note"]),
    )


def choose_genre(valence: float, arousal: float, rng: random.Random) -> str:
    """A genre near the affect on the valence/arousal plane (one of the two nearest)."""
    ranked = sorted(
        GENRE_SPECS.values(),
        key=lambda g: (
            math.hypot(g.affinity_valence - valence, g.affinity_arousal - arousal),
            g.name,
        ),
    )
    first, second = ranked[0], ranked[1]
    d1 = math.hypot(first.affinity_valence - valence, first.affinity_arousal - arousal)
    d2 = math.hypot(second.affinity_valence - valence, second.affinity_arousal - arousal)
    # The nearer genre is likelier in proportion to how much nearer it is.
    p_first = (d2 + 0.05) / (d1 + d2 + 0.1)
    return first.name if rng.random() < p_first else second.name


def drum_style_for(spec: GenreSpec, arousal: float) -> str | None:
    """The drum style this genre plays at this arousal, or None for no drums."""
    if spec.drum_style is None or arousal < spec.drums_min_arousal:
        return None
    if arousal < -0.2 and spec.low_arousal_drum_style is not None:
        return spec.low_arousal_drum_style
    return spec.drum_style
