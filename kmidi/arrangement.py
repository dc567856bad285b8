"""How one reading plays its genre: the figures each part takes within the genre's style.

The genre fixes the style (a funk groove, strummed folk chords, a walking bass); the
reading and the piece's variation seed choose within it, so two feelings that land on the
same key and genre still sound like two pieces: which hats and kicks the drummer plays in
each section, the comping figure, where the chords and the bass sit, where the tune
starts and how it moves. Intensity and arousal push toward busier figures, valence toward
brighter (higher) positions; the variation seed draws among the figures that fit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from kmidi.genres import DrumPattern

if TYPE_CHECKING:
    from kmidi.plan import Plan

_SALT: Final = 0x5EED_A77A
"""Mixed into the variation seed: these draws leave the melody's and bass's stream alone."""
_STEADY_HATS: Final = frozenset(("jazz", "ambient"))
"""Styles whose top line keeps its density (a ride's spang-a-lang, a soft shaker)."""
_FEATHERED: Final = frozenset(("jazz", "ambient", "cinematic"))
"""Styles whose added kicks are soft (feathered), not driving."""
_TOPS: Final[dict[int, tuple[tuple[int, ...], tuple[int, ...]]]] = {
    42: ((42, 42, 44, 51), (42, 51, 46)),
    46: ((46, 42, 51), (46, 51, 42)),
    51: ((51, 51, 42), (51, 53)),
    47: ((47, 45, 43), (47, 45, 50)),
}
"""What the top line is played on, per the style's own (elsewhere; at the climax): closed,
pedal or open hi-hat, ride or its bell; a film score's toms."""
_BACKBEAT: Final = frozenset(("rock", "pop", "funk", "soul", "shuffle", "folk", "half_time"))
"""Styles whose snare plays ghost notes between the backbeats."""
COMP_FIGURES: Final = 3
"""Figures per comping style (``render._comp_pattern``); 0 is the style as written."""
BASS_FIGURES: Final = 3
"""Figures per patterned bass style (``render._bass_pattern``)."""
ARPEGGIO_ORDERS: Final = 3


@dataclass(frozen=True, slots=True)
class Arrangement:
    """The choices within the genre's style for one piece."""

    comp_figures: tuple[int, int]
    """Which of the comping style's figures (0 .. COMP_FIGURES - 1) the opening material
    and the later ones play."""
    arpeggio_order: int
    positions: tuple[tuple[int, bool], tuple[int, bool]]
    """Where the chords sit in the opening material and in the later ones: semitones the
    voicing centre moves (lower and darker likelier for a darker reading, or higher), and
    whether they open out (drop-2; the opening stays close, where the key is set)."""
    pad_lift: bool
    """Whether the pad sits an octave above the chords (else it doubles them in place)."""
    bass_figure: int
    bass_shift: int
    """Semitones the bass line's centre moves (which octave each root takes)."""
    melody_degree: int
    """Scale degree (0-based) of the tonic chord the tune is anchored on: 0, 2 or 4."""
    contour_peak: float
    """Share of the motif spent rising before it turns (valence: later when brighter)."""
    fill_beats: int
    """Felt beats a fill takes: 1, or 2 when the feeling is strong."""
    grooves: dict[str, DrumPattern]
    """Drum pattern per section name."""


def arrange(plan: Plan, base: DrumPattern | None, beat_steps: tuple[int, ...]) -> Arrangement:
    """The arrangement of ``plan``: drawn from its variation seed, leaning with its reading.

    ``base`` is the genre's drum pattern for the meter (None without drums) and
    ``beat_steps`` the sixteenth at which each felt beat of a bar starts.
    """
    rng = random.Random(plan.variation ^ _SALT)
    e = plan.emotion
    lively = (e.arousal + 1) / 2 * 0.6 + e.intensity * 0.4  # 0..1: how busy the parts get
    comp = _lean(rng, COMP_FIGURES, lively)
    grooves = {}
    if base is not None:
        style = plan.instrumentation.drum_style or ""
        # Compound and eighth-note meters keep every hit on the eighth grid.
        feel = (2 if plan.meter[1] == 8 else 1, plan.tempo_bpm > 132, lively, e.intensity)
        for name in dict.fromkeys(s.name for s in plan.sections):
            grooves[name] = _groove(base, style, name, feel, beat_steps, rng)
    return Arrangement(
        comp_figures=(comp, _lean(rng, COMP_FIGURES, lively)),
        arpeggio_order=rng.randrange(ARPEGGIO_ORDERS),
        positions=(
            (_position(rng, e.valence), False),
            (_position(rng, e.valence), rng.random() < 0.5 - 0.2 * e.arousal),
        ),
        pad_lift=rng.random() < 0.6 + 0.3 * e.valence,
        bass_figure=_lean(rng, BASS_FIGURES, lively),
        bass_shift=rng.choice((-5, -3, 0, 3, 5)),
        melody_degree=2 * _pick(rng, [1.5, 1.0 + 0.5 * e.valence]),
        contour_peak=max(0.25, min(0.75, 0.5 + 0.25 * e.valence + rng.uniform(-0.1, 0.1))),
        fill_beats=2 if e.intensity >= 0.6 and rng.random() < e.intensity else 1,
        grooves=grooves,
    )


def _position(rng: random.Random, valence: float) -> int:
    """A voicing position: low, lower middle, middle or high; low likelier when dark."""
    return (-7, -4, 0, 4)[_pick(rng, [1.0 - 0.5 * valence, 1.0, 1.0, 1.0])]


def _lean(rng: random.Random, count: int, lively: float) -> int:
    """A figure index: busier figures (higher indices) likelier when ``lively`` is high."""
    weights = [max(0.2, 1.0 + (lively - 0.5) * (2 * i / (count - 1) - 1)) for i in range(count)]
    return _pick(rng, weights)


def _pick(rng: random.Random, weights: list[float]) -> int:
    """An index drawn in proportion to ``weights`` (``random.choices`` costs twice this)."""
    r = rng.random() * sum(weights)
    for i, w in enumerate(weights):
        r -= w
        if r < 0:
            return i
    return len(weights) - 1


def _groove(
    base: DrumPattern,
    style: str,
    section: str,
    feel: tuple[int, bool, float, float],
    beat_steps: tuple[int, ...],
    rng: random.Random,
) -> DrumPattern:
    """One section's groove: the style's pattern with its hats thinned or filled in, a
    hat, pedal hat or ride on top, a kick moved and ghost notes between the backbeats.
    ``feel``: the step grid (2 keeps to eighths), whether sixteenth hats are too fast,
    how lively the reading is, and its intensity."""
    grid, fast, lively, intensity = feel
    lift = {"climax": 1, "release": -1, "intro": -1}.get(section, 0)
    hat = base.hat
    if style not in _STEADY_HATS:
        busy = max(-1, min(2, round((lively - 0.5) * 2 + lift * 0.6 + rng.uniform(-0.9, 0.9))))
        hat = _hats(base.hat, 1 if busy == 2 and (grid == 2 or fast) else busy, beat_steps)
    elif style == "jazz" and grid == 1 and base.steps == 16:
        hat = _RIDES[min(2, max(0, round(lively * 2 + rng.uniform(-0.6, 0.6))))]
    tops = _TOPS.get(base.hat_note, ((base.hat_note,), (base.hat_note,)))
    hat_note = rng.choice(tops[1] if lift > 0 else tops[0])
    # A jazz or film drummer feathers the extra kicks; a backbeat drummer plays them.
    extra = "o" if style in _FEATHERED else "x"
    kick = base.kick if style == "four_on_floor" else _drop_one(base.kick, rng)
    kick = _add(kick, base.snare, extra, rng.randrange(2 + round(lively)), grid, rng)
    snare = base.snare
    if style in _BACKBEAT and grid == 1:
        ghosts = rng.randrange(1 + round(3 * intensity))
        snare = _add(base.snare, kick, "o", ghosts, 1, rng, odd=True)
    return DrumPattern(kick, snare, hat, base.snare_note, hat_note)


_RIDES: Final = ("X...x...X...x...", "X...x.x.X...x.x.", "X.x.x.x.X.x.x.x.")
"""A 4/4 jazz ride: in two, the spang-a-lang, or every swung eighth."""


@lru_cache(maxsize=256)  # a few styles, meters and densities
def _hats(row: str, busy: int, beat_steps: tuple[int, ...]) -> str:
    """The hat row at a density: -1 felt beats only, 0 as written, 1 every eighth,
    2 every sixteenth (accented on the eighths)."""
    if busy == 0:
        return row
    cells = list(row)
    for k in range(len(cells)):
        if busy < 0:
            cells[k] = "x" if k in beat_steps else "."
        elif k % 2 == 0:
            cells[k] = cells[k] if cells[k] in "Xx" else "x"
        elif busy == 2:
            cells[k] = "o"
    return "".join(cells)


def _drop_one(row: str, rng: random.Random) -> str:
    """``row`` without one of its hits after the downbeat, half the time: a drummer's
    own version of the pattern."""
    if rng.random() < 0.5:
        return row
    later = _strikes(row)
    if not later:
        return row
    k = rng.choice(later)
    return row[:k] + "." + row[k + 1 :]


def _add(
    row: str,
    other: str,
    mark: str,
    count: int,
    grid: int,
    rng: random.Random,
    *,
    odd: bool = False,
) -> str:
    """``row`` with ``mark`` on ``count`` empty steps (on ``grid``) where ``other`` is
    silent too, so a kick never meets a snare; ``odd`` keeps to the off-sixteenths."""
    if count == 0:
        return row
    free = _free(row, other, grid, odd)
    cells = list(row)
    for k in rng.sample(free, min(count, len(free))):
        cells[k] = mark
    return "".join(cells)


@lru_cache(maxsize=256)  # a style has a few rows; each is searched once
def _strikes(row: str) -> tuple[int, ...]:
    """Steps after the downbeat where ``row`` plays."""
    return tuple(k for k in range(1, len(row)) if row[k] != ".")


@lru_cache(maxsize=512)
def _free(row: str, other: str, grid: int, odd: bool) -> tuple[int, ...]:
    """Steps after the downbeat (on ``grid``, odd ones only if ``odd``) where neither
    ``row`` nor ``other`` plays."""
    return tuple(
        k
        for k in range(1, len(row))
        if row[k] == "." and other[k] == "." and k % grid == 0 and (not odd or k % 2 == 1)
    )
