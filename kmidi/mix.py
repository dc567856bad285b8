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


def _expression(plan: Plan, ppq: int) -> list[tuple[int, int, int]]:
    """CC11 at every bar line: up to the middle of each phrase and down after; the last
    bar fades in four steps."""
    bar_ticks = round(plan.beats_per_bar * ppq)
    events: list[tuple[int, int, int]] = []
    for phrase in plan.phrases:
        for k in range(phrase.bars):
            t = (k + 0.5) / phrase.bars
            events.append(
                (
                    (phrase.start_bar + k) * bar_ticks,
                    EXPRESSION,
                    round(92 + 26 * math.sin(math.pi * t)),
                )
            )
    last = (plan.length_bars - 1) * bar_ticks
    start_value = events[-1][2]
    for step in range(1, 4):
        value = round(start_value - (start_value - 64) * step / 3)
        events.append((last + bar_ticks * step // 4, EXPRESSION, value))
    return events


def _pedal(plan: Plan, ppq: int) -> list[tuple[int, int, int]]:
    """CC64: released at every chord change and pressed again just after; up at the end."""
    events: list[tuple[int, int, int]] = []
    bpb = plan.beats_per_bar
    for slot in plan.progression:
        tick = round((slot.bar * bpb + slot.beat) * ppq)
        if events:
            events.append((tick, SUSTAIN, 0))
        events.append((tick + _PEDAL_LAG, SUSTAIN, 127))
    end = round(plan.length_bars * bpb * ppq)
    events.append((end - 1, SUSTAIN, 0))
    return events


def track_controls(plan: Plan, track: str, program: int | None, ppq: int) -> Controls:
    """Every controller change of one track, in time order."""
    volume, pan = MIX[track]
    events = [(0, VOLUME, volume), (0, PAN, pan)]
    if track in _EXPRESSIVE:
        events += _expression(plan, ppq)
    if track == "pad" or (track == "harmony" and program in _PEDALLED_PROGRAMS):
        events += _pedal(plan, ppq)
    events.sort()
    tick, number, value = (np.array(column, dtype=np.int64) for column in zip(*events, strict=True))
    return Controls(tick, number, value)


__all__ = ["MIX", "track_controls"]
