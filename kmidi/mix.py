"""The mix and the expression: controller changes written with every track.

Every track gets its volume (CC7) and pan (CC10) on its first tick, balanced so that the
melody leads and the accompaniment sits under it. Melodic tracks get an expression curve
(CC11) that swells towards the middle of each phrase and breathes out over the last bar;
piano-family harmony and pads get a sustain pedal (CC64) changed with every chord.

The levels leave headroom: with every channel's volume below 110 of 127 (GM's gain is
the square of volume/127, so 110 is -1.25 dB and 70 is -5.2 dB), a dense piece rendered
by FluidSynth at its default gain does not clip.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from kmidi.plan import Plan
from kmidi.smf_tracks import Controls

VOLUME, PAN, EXPRESSION, SUSTAIN = 7, 10, 11, 64

MIX: Final[dict[str, tuple[int, int]]] = {
    "melody": (108, 64),
    "bass": (96, 64),
    "harmony": (80, 44),
    "pad": (66, 86),
    "drums": (88, 64),
}
"""(volume, pan) per track: the melody loudest and centred, harmony left of centre and
the pad right of it so the two do not mask each other, bass and drums centred."""

_EXPRESSIVE: Final = frozenset(("melody", "harmony", "pad"))
_PEDALLED_PROGRAMS: Final = range(0, 8)
"""General MIDI pianos: the instruments a player pedals."""
_PEDAL_LAG = 24
"""Ticks after a chord change before the pedal goes down again (legato pedalling)."""


def _expression(plan: Plan, ppq: int) -> Controls:
    """CC11 at every bar line: up to the middle of each phrase and down after; the last
    bar fades in three steps."""
    bar_ticks = round(plan.beats_per_bar * ppq)
    values = [
        round(92 + 26 * math.sin(math.pi * (k + 0.5) / phrase.bars))
        for phrase in plan.phrases
        for k in range(phrase.bars)
    ]
    ticks = list(range(0, plan.length_bars * bar_ticks, bar_ticks))
    last, start_value = ticks[-1], values[-1]
    for step in range(1, 4):
        ticks.append(last + bar_ticks * step // 4)
        values.append(round(start_value - (start_value - 64) * step / 3))
    return _controls(ticks, EXPRESSION, values)


def _pedal(plan: Plan, ppq: int) -> Controls:
    """CC64: released at every chord change and pressed again just after; up at the end."""
    bpb = plan.beats_per_bar
    starts = [round((slot.bar * bpb + slot.beat) * ppq) for slot in plan.progression]
    end = round(plan.length_bars * bpb * ppq)
    ticks = [*starts[1:], end - 1, *(tick + _PEDAL_LAG for tick in starts)]
    values = [0] * len(starts) + [127] * len(starts)
    return _controls(ticks, SUSTAIN, values)


def _controls(ticks: list[int], number: int, values: list[int]) -> Controls:
    tick = np.array(ticks, dtype=np.int64)
    return Controls(
        tick, np.full(len(tick), number, dtype=np.int64), np.array(values, dtype=np.int64)
    )


def track_controls(plan: Plan, tracks: list[tuple[str, int | None]], ppq: int) -> list[Controls]:
    """Every controller change of each (track, program), in the order given; the order of
    events within a track is left to the encoder, which sorts by tick."""
    expression = _expression(plan, ppq)
    pedal = _pedal(plan, ppq)
    out = []
    for track, program in tracks:
        volume, pan = MIX[track]
        parts = [_controls([0], VOLUME, [volume]), _controls([0], PAN, [pan])]
        if track in _EXPRESSIVE:
            parts.append(expression)
        if track == "pad" or (track == "harmony" and program in _PEDALLED_PROGRAMS):
            parts.append(pedal)
        out.append(Controls(*(np.concatenate(column) for column in zip(*parts, strict=True))))
    return out


__all__ = ["MIX", "track_controls"]
