"""Render a ``Plan`` to a format-1 Standard MIDI File.

The same plan always gives byte-identical MIDI. Choices that depend on the note before
(the melody's line, a walking bass) are drawn one by one from
``random.Random(plan.variation)``, the seed mixed with the emotion the plan expresses; the
humanisation of every note (timing and velocity jitter) is drawn in bulk from a numpy
PCG64 generator seeded with the same number. Parts that repeat a pattern bar after bar
(comping, drums, most bass styles) are laid out as numpy grids of rows (bars) by pattern
positions, because per-note Python work was nearly all of the cost of rendering. Tracks
are settled and encoded by ``kmidi.smf_tracks``.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import accumulate, pairwise, repeat
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from kmidi.arrangement import Arrangement, arrange
from kmidi.form import INTRO, Phrase
from kmidi.genres import beat_groups, drum_pattern
from kmidi.mix import track_controls
from kmidi.plan import ChordSlot, Plan
from kmidi.smf_tracks import SettledTrack, conductor_chunk, midi_file, settle, track_chunk
from kmidi.theory import Chord, Key, parse_chord_symbol, voice_lead

PPQ = 480
"""Ticks per quarter note."""
CHANNELS: dict[str, int] = {"harmony": 0, "bass": 1, "melody": 2, "pad": 3, "drums": 9}
_CRASH, _KICK, _SNARE = 49, 36, 38
_TOMS = (50, 48, 47, 45, 43, 41)
"""General MIDI toms, high to low: a fill falls through them."""
_DRUM_ACCENT = {"X": 1.0, "x": 0.82, "o": 0.45}
_ACCENTS = np.zeros(128)
for _mark, _accent in _DRUM_ACCENT.items():
    _ACCENTS[ord(_mark)] = _accent
"""A drum grid character's code → its accent."""
_TRI = 6**0.5
_EPS = 1e-9
_STRUM_SPREAD = 0.012
"""Beats between the voices of a strummed chord."""
# Dynamics 0..1 map onto velocities 24..124: below ~24 GM synths are all but inaudible.
VELOCITY_FLOOR = 24.0
VELOCITY_SPAN = 100.0

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Row = tuple[float, float, float, float, int]
"""A note before humanisation: (onset beat, hold, latest end beat, velocity, pitch)."""


class Note(NamedTuple):
    """One sounding note as written to the file (beats are quarter notes)."""

    track: str
    channel: int
    pitch: int
    velocity: int
    start_beats: float
    duration_beats: float
    start_seconds: float


@dataclass(frozen=True, slots=True)
class RenderedPiece:
    """A rendered piece: the file bytes, its length, and every note in it.

    ``notes`` is built on first use from the settled tracks the file was written from:
    the generation worker only ships the bytes.
    """

    midi: bytes
    duration_seconds: float
    _tracks: tuple[tuple[str, SettledTrack], ...] = field(repr=False, compare=False)
    _seconds_at: Callable[[Ints], Floats] = field(repr=False, compare=False)
    """Tick → seconds under the piece's tempo map."""
    _note_list: list[Note] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def notes(self) -> list[Note]:
        """Every note written, track by track, in time order."""
        if self._note_list is None:
            notes: list[Note] = []
            for name, track in self._tracks:
                notes += _notes(name, track, self._seconds_at)
            object.__setattr__(self, "_note_list", notes)  # a cache; the piece stays frozen
            return notes
        return self._note_list


def _notes(name: str, track: SettledTrack, seconds_at: Callable[[Ints], Floats]) -> list[Note]:
    """The ``Note`` of each settled note of one track."""
    count = len(track.start)
    columns = zip(
        repeat(name, count),
        repeat(CHANNELS[name], count),
        track.pitch.tolist(),
        track.velocity.tolist(),
        (track.start / PPQ).tolist(),
        ((track.end - track.start) / PPQ).tolist(),
        seconds_at(track.start).tolist(),
        strict=True,
    )
    # Note(...) goes through a Python-level __new__; tuple.__new__ takes the row as it is.
    return list(map(partial(tuple.__new__, Note), columns))


# ---------------------------------------------------------------- parts


class _Part:
    """One track's notes as they are generated: humanised in blocks, settled at the end."""

    def __init__(self, jitter: np.random.Generator, enters: float = 0.0) -> None:
        self._jitter = jitter
        self._enters = enters - 0.25
        """Written onsets up to here are dropped (the part sits out the intro); a sixteenth
        of slack keeps the entrance on its downbeat when the feel plays it ahead."""
        self._blocks: list[tuple[NDArray[Any], ...]] = []
        """(onset beat, end beat, pitch, velocity, kept) columns, humanised, not rounded."""

    def add(
        self,
        on: Floats,
        hold: Floats | float,
        cap: Floats | float,
        velocity: Floats,
        pitch: Floats | Ints,
        *,
        timing: float,
        dynamics: float,
        voices: Ints | None = None,
        spread: float = 0.0,
    ) -> None:
        """Humanise and keep notes: onsets ``on`` (beats) held ``hold`` but not past ``cap``.

        ``timing`` and ``dynamics`` scale a triangular draw (u1 - u2, sd 1/sqrt(6)) per
        onset. With ``voices`` (voice count per onset), ``pitch`` holds every voice of every
        onset in turn, and the voices of one onset share its draw, ``spread`` beats apart.
        """
        count = len(on)
        if count == 0:
            return
        draw = self._jitter.random((4, count))
        # Drawn for every note, kept or not, so later bars do not depend on who plays.
        kept = on > self._enters
        on = on + (draw[0] - draw[1]) * timing
        off = np.minimum(on + hold, cap)
        vel = velocity + (draw[2] - draw[3]) * dynamics
        if voices is not None:
            on, off, vel = np.repeat(on, voices), np.repeat(off, voices), np.repeat(vel, voices)
            kept = np.repeat(kept, voices)
            if spread:
                first = np.repeat(np.cumsum(voices) - voices, voices)
                on = on + (np.arange(len(on)) - first) * spread
        self._blocks.append((on, off, pitch, vel, kept))

    def add_rows(self, rows: list[Row], *, timing: float, dynamics: float) -> None:
        """``add`` for notes generated one at a time."""
        if rows:
            on, hold, cap, velocity, pitch = np.array(rows).T
            self.add(on, hold, cap, velocity, pitch, timing=timing, dynamics=dynamics)

    def settled(self, end_tick: int) -> SettledTrack:
        """The kept notes in time order (see ``kmidi.smf_tracks.settle``)."""
        if not self._blocks:
            empty = np.zeros(0, dtype=np.int64)
            return settle(empty, empty, empty, empty, end_tick)
        on, off, pitch, velocity, kept = (
            np.concatenate(c) for c in zip(*self._blocks, strict=True)
        )
        on, off, pitch, velocity = on[kept], off[kept], pitch[kept], velocity[kept]
        start = np.rint(on * PPQ).astype(np.int64)
        order = np.argsort(start, kind="stable")
        return settle(
            start[order],
            np.rint(off[order] * PPQ).astype(np.int64),
            pitch[order].astype(np.int64),
            np.rint(velocity[order]).astype(np.int64),
            end_tick,
        )


def _grid(lo: Floats, hi: Floats, x: Floats) -> tuple[Ints, Ints]:
    """(row, position) index pairs, row by row, of pattern positions ``x`` in [lo, hi)."""
    inside = (x >= lo[:, None] - _EPS) & (x < hi[:, None] - _EPS)
    rows, positions = np.nonzero(inside)
    return rows, positions


def _columns(rows: list[tuple[Any, ...]]) -> list[NDArray[Any]]:
    """One array per column of ``rows`` (each column keeps its own dtype)."""
    return [np.array(column) for column in zip(*rows, strict=True)]


def _voices_of(table: Ints, counts: Ints, chord_ids: Ints) -> Ints:
    """The voices of chord ``chord_ids[i]`` for every i, in turn (``table`` is padded)."""
    width = table.shape[1]
    inside = np.arange(width) < counts[chord_ids][:, None]
    return table[chord_ids][inside]


# ---------------------------------------------------------------- helpers


@lru_cache(maxsize=4096)  # a lookup costs a third of the search; arguments repeat a lot
def _place(pcs: tuple[int, ...], target: int, low: int, high: int) -> int:
    """The pitch with a class in ``pcs`` nearest ``target`` inside [low, high]."""
    best, best_d = target, 999
    for pc in pcs:
        below = (target - pc) % 12
        base = target - below
        if low <= base and base + 12 <= high:
            # Both candidates already in range (the usual case): their distances are
            # ``below`` and ``12 - below``, tried in the same order as the general loop.
            if below < best_d:
                best, best_d = base, below
            if 12 - below < best_d:
                best, best_d = base + 12, 12 - below
            continue
        for cand in (base, base + 12):
            while cand < low:
                cand += 12
            while cand > high:
                cand -= 12
            d = abs(cand - target)
            if d < best_d:
                best, best_d = cand, d
    return best


# ---------------------------------------------------------------- the score


SlotBar = tuple[int, int, float, float, float]
"""Where a chord slot sounds in one bar: (slot, bar, bar start, lo, hi), lo and hi in beats
from the bar line."""


@dataclass(frozen=True, slots=True)
class _Score:
    """What every part reads: the plan, and what ``render_midi`` derives from it once."""

    plan: Plan
    rng: random.Random
    """Choices that depend on the note before: drawn one by one, in part order."""
    bars: int
    bpb: float
    total_beats: float
    beat_starts: list[float]
    """Felt-beat starts within a bar, in quarter beats (7/8 → 0, 1, 2)."""
    eighths: list[float]
    energy: list[float]
    """Section energy per bar."""
    section: list[str]
    """Section name per bar."""
    section_starts: set[int]
    arc: list[float]
    """Each bar's place in its phrase as a loudness factor: phrases swell to the middle."""
    swing: dict[float, float]
    """Sixteenth position in a bar → its swung position."""
    feel: float
    kj: float
    """Timing jitter amplitude (beats) of the triangular draw with the groove's sd."""
    kv: float
    """Velocity jitter amplitude, likewise."""
    key: Key
    chords: list[Chord]
    chord_pcs: list[tuple[int, ...]]
    """Pitch classes of each slot's chord."""
    slots: list[ChordSlot]
    slot_spans: list[tuple[float, float]]
    """Start and end beat of each slot."""
    slot_bars: list[SlotBar]
    bar_slots: list[list[int]]
    """Slots sounding in each bar."""
    arr: Arrangement
    """The figures this reading plays within the genre's style."""
    opening: list[bool]
    """Whether each slot belongs to the opening material (A, or the intro vamping on it)."""

    @property
    def bass_onset(self) -> float:
        """How far the bass sits behind the beat: half the groove's feel."""
        return self.feel * 0.5

    def level(self, bar: int, scale: float) -> float:
        """The velocity of the dynamics curve at ``bar``, shaped by its phrase, scaled."""
        return (VELOCITY_FLOOR + self.plan.dynamics[bar] * VELOCITY_SPAN) * self.arc[bar] * scale

    def chord_at(self, bar: int, beat: float) -> int:
        """The slot sounding at ``beat`` of ``bar``."""
        slots = self.bar_slots[bar]
        pos = bar * self.bpb + beat
        found = slots[0] if slots else 0
        for i in slots:
            s = self.slots[i]
            if s.bar * self.bpb + s.beat <= pos + _EPS:
                found = i
        return found


def _phrase_arc(plan: Plan) -> list[float]:
    """0.93 at a phrase's edges to 1.05 in its middle, bar by bar."""
    arc = [1.0] * plan.length_bars
    for phrase in plan.phrases:
        for k in range(phrase.bars):
            arc[phrase.start_bar + k] = 0.93 + 0.12 * math.sin(math.pi * (k + 0.5) / phrase.bars)
    return arc


def _score(plan: Plan) -> _Score:
    """Everything the parts share, worked out from ``plan`` once."""
    bars, bpb, groove = plan.length_bars, plan.beats_per_bar, plan.groove
    total_beats = round(bpb * PPQ) * bars / PPQ
    beat_starts = _beat_starts(*plan.meter)
    energy, section = _section_bars(plan)
    chords, chord_pcs = _parsed_chords(plan.progression)
    slots = list(plan.progression)
    bar_slots, slot_spans, slot_bars = _slot_layout(slots, bars, bpb, total_beats)
    return _Score(
        plan=plan,
        rng=random.Random(plan.variation),
        bars=bars,
        bpb=bpb,
        total_beats=total_beats,
        beat_starts=beat_starts,
        eighths=[x / 2 for x in range(int(bpb * 2))],
        energy=energy,
        section=section,
        section_starts={s.start_bar for s in plan.sections},
        arc=_phrase_arc(plan),
        swing=_swing_grid(bpb, groove.swing),
        feel=groove.feel_offset,
        kj=groove.humanize_timing * _TRI,
        kv=groove.humanize_velocity * 127 * _TRI,
        key=plan.key,
        chords=chords,
        chord_pcs=chord_pcs,
        slots=slots,
        slot_spans=slot_spans,
        slot_bars=slot_bars,
        bar_slots=bar_slots,
        arr=_arrangement(plan, beat_starts),
        opening=_opening(plan, slots),
    )


def _beat_starts(num: int, den: int) -> list[float]:
    """Felt-beat starts within a bar, in quarter beats, from the meter's beat groups."""
    starts: list[float] = []
    acc = 0
    for g in beat_groups(num, den):
        starts.append(acc / 4)
        acc += g
    return starts


def _section_bars(plan: Plan) -> tuple[list[float], list[str]]:
    """Each bar's section energy and section name (0.5 and "theme" outside any section)."""
    bars = plan.length_bars
    energy = [0.5] * bars
    section = ["theme"] * bars
    for s in plan.sections:
        for b in range(s.start_bar, min(s.end_bar, bars)):
            energy[b] = s.energy
            section[b] = s.name
    return energy, section


def _swing_grid(bpb: float, swing: float) -> dict[float, float]:
    """Each sixteenth position in a bar → its swung position: off-beat eighths move by
    ``swing``, the sixteenths between by half of it."""

    def swung(pos: float) -> float:
        frac = pos - math.floor(pos)
        if frac == 0.5:
            return pos + swing
        if frac in (0.25, 0.75):
            return pos + swing * 0.5
        return pos

    return {k / 4: swung(k / 4) for k in range(int(bpb * 4) + 1)}


def _parsed_chords(
    progression: tuple[ChordSlot, ...],
) -> tuple[list[Chord], list[tuple[int, ...]]]:
    """Each slot's chord and its pitch classes."""
    # Progressions repeat a few chords: parse each symbol once.
    parsed: dict[str, tuple[Chord, tuple[int, ...]]] = {}
    for slot in progression:
        if slot.symbol not in parsed:
            chord = parse_chord_symbol(slot.symbol)
            parsed[slot.symbol] = (chord, chord.pitch_classes)
    return [parsed[s.symbol][0] for s in progression], [parsed[s.symbol][1] for s in progression]


def _slot_layout(
    slots: list[ChordSlot], bars: int, bpb: float, total_beats: float
) -> tuple[list[list[int]], list[tuple[float, float]], list[SlotBar]]:
    """The slots sounding in each bar, each slot's start and end beat, and each slot's
    part of every bar it covers."""
    bar_slots: list[list[int]] = [[] for _ in range(bars)]
    slot_spans: list[tuple[float, float]] = []
    slot_bars: list[SlotBar] = []
    for i, slot in enumerate(slots):
        span = max(1, math.ceil((slot.beat + slot.beats) / bpb - _EPS))
        for b in range(slot.bar, min(bars, slot.bar + span)):
            bar_slots[b].append(i)
        slot_start = slot.bar * bpb + slot.beat
        slot_end = min(total_beats, slot_start + slot.beats)
        slot_spans.append((slot_start, slot_end))
        b = slot.bar
        while b * bpb < slot_end - _EPS and b < bars:
            bar_start = b * bpb
            lo = max(slot_start, bar_start) - bar_start
            hi = min(slot_end, bar_start + bpb) - bar_start
            slot_bars.append((i, b, bar_start, lo, hi))
            b += 1
    return bar_slots, slot_spans, slot_bars


def _arrangement(plan: Plan, beat_starts: list[float]) -> Arrangement:
    """The figures this reading plays, given the genre's drum pattern and the felt beats."""
    inst = plan.instrumentation
    num, den = plan.meter
    drums = drum_pattern(inst.drum_style, num, den) if inst.drums and inst.drum_style else None
    return arrange(plan, drums, tuple(round(x * 4) for x in beat_starts))


# ---------------------------------------------------------------- rendering


def render_midi(plan: Plan) -> RenderedPiece:
    """Render ``plan`` to MIDI bytes plus the list of notes written."""
    score = _score(plan)
    tracks = _tracks(plan, score.bpb)
    _write_parts(score, {name: part for name, part, _ in tracks})
    bar_ticks = round(score.bpb * PPQ)
    end_tick = bar_ticks * score.bars
    tempi = plan.bar_tempi_us()
    duration, seconds_at = _clock(tempi, score.bpb, bar_ticks, score.bars)
    title = f"kmidi {plan.emotion.preset}"
    chunks = [conductor_chunk(title, plan.meter, plan.key_signature, tempi, bar_ticks, end_tick)]
    settled: list[tuple[str, SettledTrack]] = []
    controls = track_controls(plan, [(name, program) for name, _, program in tracks], PPQ)
    for (name, part, program), changes in zip(tracks, controls, strict=True):
        notes = part.settled(end_tick)
        settled.append((name, notes))
        chunks.append(track_chunk(name, CHANNELS[name], program, notes, end_tick, changes))
    return RenderedPiece(
        midi=midi_file(chunks, PPQ),
        duration_seconds=duration,
        _tracks=tuple(settled),
        _seconds_at=seconds_at,
    )


def _tracks(plan: Plan, bpb: float) -> list[tuple[str, _Part, int | None]]:
    """Each track's name, empty part and GM program (None for drums), in track order; a
    part the intro leaves out enters after the first phrase."""
    jitter = np.random.Generator(np.random.PCG64(plan.variation))
    inst = plan.instrumentation
    intro_end = plan.phrases[0].end_bar * bpb if inst.intro else 0.0

    def new_part(name: str) -> _Part:
        return _Part(jitter, 0.0 if name in inst.intro else intro_end)

    tracks: list[tuple[str, _Part, int | None]] = [
        ("harmony", new_part("harmony"), inst.harmony_program),
        ("bass", new_part("bass"), inst.bass_program),
        ("melody", new_part("melody"), inst.melody_program),
    ]
    if inst.pad_program is not None:
        tracks.append(("pad", new_part("pad"), inst.pad_program))
    if inst.drums and inst.drum_style is not None:
        tracks.append(("drums", new_part("drums"), None))
    return tracks


def _write_parts(score: _Score, parts: dict[str, _Part]) -> None:
    """Generate the notes of every part."""
    # Parts are written in this order, whatever the track order: it fixes the random draws.
    _harmony(score, parts["harmony"], parts.get("pad"))
    _bass(score, parts["bass"])
    _melody(score, parts["melody"])
    if "drums" in parts:
        _drums(score, parts["drums"])


def _clock(
    tempi: list[int], bpb: float, bar_ticks: int, bars: int
) -> tuple[float, Callable[[Ints], Floats]]:
    """The piece's length in seconds, and the seconds at any ticks, under the (possibly
    drifting) tempo map of ``tempi`` (microseconds per quarter, bar by bar)."""
    bar_secs = [0.0]
    for us in tempi:
        bar_secs.append(bar_secs[-1] + us * bpb / 1_000_000)
    bar_seconds = np.array(bar_secs)
    tick_seconds = np.array(tempi, dtype=np.float64) / 1_000_000 / PPQ

    def seconds_at(ticks: Ints) -> Floats:
        bar = np.minimum(ticks // bar_ticks, bars - 1)
        seconds: Floats = bar_seconds[bar] + (ticks - bar * bar_ticks) * tick_seconds[bar]
        return seconds

    return bar_secs[-1], seconds_at


# ---------------------------------------------------------------- harmony


def _voicings(score: _Score) -> list[tuple[int, ...]]:
    """Each slot's chord as pitches: voice-led close chords or power chords, placed where
    the reading puts the opening material and, apart from it, the later ones (a chorus
    may lift or drop), with the tonic held over every chord in a modal key."""
    (shift, spread), after = score.arr.positions
    opening = _positioned(score, shift, spread)
    later = opening if after == (shift, spread) else _positioned(score, *after)
    voicings = [opening[i] if first else later[i] for i, first in enumerate(score.opening)]
    # The last chord stands on its root, whatever position the reading chose.
    last, root = sorted(voicings[-1]), score.chords[-1].root
    if last[0] % 12 != root:
        below = last[0] - ((last[0] - root) % 12 or 12)
        voicings[-1] = (below, *(p for p in last if p % 12 != root))
    inst = score.plan.instrumentation
    tonic = score.key.tonic_pc
    if not inst.tonic_pedal or inst.voicing == "power":
        return voicings
    # A mode shares its notes with a major key; an inverted pedal (the tonic held above
    # every chord) keeps its own home in the ear.
    return [
        v
        if any(p % 12 == tonic for p in v)
        else (*v, _place((tonic,), max(v) + 1, max(v) + 1, max(v) + 12))
        for v in voicings
    ]


def _opening(plan: Plan, slots: list[ChordSlot]) -> list[bool]:
    """Whether each slot belongs to the opening material (A, or the intro vamping on it)."""
    opening = [True] * plan.length_bars
    for p in plan.phrases:
        if p.material not in ("A", INTRO):
            opening[p.start_bar : p.end_bar] = [False] * (p.end_bar - p.start_bar)
    return [opening[slot.bar] for slot in slots]


def _positioned(score: _Score, shift: int, spread: bool) -> list[tuple[int, ...]]:
    """Every chord voiced ``shift`` semitones from the harmony's centre: a lower position
    may reach below the harmony's floor, never above its top (under the melody); a
    ``spread`` (drop-2) voicing takes its second voice from the top down an octave."""
    inst, regs = score.plan.instrumentation, score.plan.registers
    if inst.voicing == "power":
        # Root, fifth and octave, the octave no higher than the harmony's top: what an
        # overdriven guitar plays (a third would turn to mud under the distortion).
        # A lower position only while the root stays on a guitar's low strings (D2 up).
        top = max(45, regs.harmony_high - 12 - {4: 0, 0: 3, -4: 5}.get(shift, 7))
        shapes: dict[str, tuple[int, ...]] = {}  # chords repeat: each symbol once
        for slot, chord in zip(score.slots, score.chords, strict=True):
            if slot.symbol not in shapes:
                root = _place((chord.root,), top - 3, top - 7, top)
                shapes[slot.symbol] = (root, root + _fifth(chord), root + 12)
        return [shapes[slot.symbol] for slot in score.slots]
    rhythmic = inst.comping in ("eighths", "pulse", "stabs", "offbeat", "strum")
    low = regs.harmony_low + min(0, shift)
    voicings = voice_lead(
        score.chords,
        low,
        regs.harmony_high,
        voices=3 if rhythmic else 4,
        centre=(regs.harmony_low + regs.harmony_high) // 2 + shift,
    )
    if not spread:
        return voicings
    floor = max(regs.bass_high - 2, low - 5)  # the dropped voice stays above the bass line
    return [_drop2(v, floor) for v in voicings]


def _drop2(voicing: tuple[int, ...], floor: int) -> tuple[int, ...]:
    """The voicing with its second voice from the top an octave lower, if it stays at or
    above ``floor``: a close chord opened out."""
    v = sorted(voicing)
    if len(v) < 3 or v[-2] - 12 < floor:
        return voicing
    return tuple(sorted((v[-2] - 12, *v[:-2], v[-1])))


def _harmony(score: _Score, harmony: _Part, pad: _Part | None) -> None:
    """Comping (or arpeggios) on the voice-led chords, and the pad's held chords."""
    style = score.plan.instrumentation.comping
    voicings = _voicings(score)
    figures = [_comp_pattern(style, score, score.plan.legato, f) for f in score.arr.comp_figures]
    table, counts = _voicing_table(voicings)
    sustained, comped, broken = _harmony_bars(score, voicings, figures[0] is not None)
    harmony.add_rows(broken, timing=score.kj, dynamics=score.kv)
    if sustained:
        ids, ons, holds, caps, levels = _columns(sustained)
        harmony.add(
            ons,
            holds,
            caps,
            levels,
            _voices_of(table, counts, ids),
            timing=score.kj,
            dynamics=score.kv,
            voices=counts[ids],
        )
    if comped[0] or comped[1]:  # rows are comped only when the style has a pattern
        _comp(score, harmony, comped, figures, (table, counts))
    if pad is not None:
        _pad(score, pad, voicings)


def _voicing_table(voicings: list[tuple[int, ...]]) -> tuple[Ints, Ints]:
    """The voicings as a table padded with zeros to the widest, and each one's voice count."""
    widest = max(len(v) for v in voicings)
    table = np.array([[*v, *([0] * (widest - len(v)))] for v in voicings], dtype=np.int64)
    counts = np.array([len(v) for v in voicings], dtype=np.int64)
    return table, counts


_ChordRow = tuple[int, float, float, float, float]
"""A chord slot's part of one bar: the slot, then (sustained) onset, hold, latest end and
velocity, or (comped) bar start, lo, hi and velocity."""


def _harmony_bars(
    score: _Score, voicings: list[tuple[int, ...]], patterned: bool
) -> tuple[list[_ChordRow], list[list[_ChordRow]], list[Row]]:
    """Each slot's part of each bar (``_ChordRow``), divided by how it is played: sustained,
    comped on a pattern (for the opening material and the later ones), or broken into an
    arpeggio or ostinato (its notes)."""
    inst = score.plan.instrumentation
    sw, feel = score.swing.get, score.feel
    # Bars of quiet sections sustain the chord; the others comp in the piece's style.
    sustained: list[_ChordRow] = []
    comped: list[list[_ChordRow]] = [[], []]
    broken: list[Row] = []
    for i, b, bar_start, lo, hi in score.slot_bars:
        velocity = score.level(b, 0.78)
        # The piece's last chord rings to the end whatever the figure.
        ending = b == score.bars - 1 and i == len(score.slots) - 1
        if inst.comping == "sustain" or score.energy[score.slots[i].bar] < 0.25 or ending:
            on = bar_start + sw(lo, lo) + feel
            sustained.append((i, on, max(hi - lo, 0.1), bar_start + hi, velocity))
        elif patterned:
            comped[0 if score.opening[i] else 1].append((i, bar_start, lo, hi, velocity))
        else:
            broken += _broken_chord(score, inst.comping, voicings[i], bar_start, lo, hi, velocity)
    return sustained, comped, broken


def _pad(score: _Score, pad: _Part, voicings: list[tuple[int, ...]]) -> None:
    """The pad holds each chord's upper voices, an octave up where that stays under the
    melody's centre (in place for a darker reading), from slot start to end."""
    top = score.plan.registers.melody_centre - 2 if score.arr.pad_lift else 0
    held: list[Row] = []
    for i, (slot_start, slot_end) in enumerate(score.slot_spans):
        velocity = score.level(score.slots[i].bar, 0.55)
        held += [
            (slot_start + score.feel, math.inf, slot_end, velocity, p + 12 if p + 12 < top else p)
            for p in voicings[i][1:]
        ]
    pad.add_rows(held, timing=0.0, dynamics=score.kv * 0.5)


def _comp(
    score: _Score,
    harmony: _Part,
    rows: list[list[_ChordRow]],
    patterns: list[list[tuple[float, float, float]] | None],
    voicings: tuple[Ints, Ints],
) -> None:
    """Comp each material's pattern on its slots (``rows``: slot, bar start, lo, hi,
    velocity, for the opening material and the later ones; ``voicings``: the padded
    voicing table and the voice counts), both in one block."""
    sw, feel = score.swing.get, score.feel
    table, counts = voicings
    kept = [(k, r) for k, material in enumerate(rows) for r in material]
    figure = np.array([k for k, _ in kept])
    ids, starts, los, his, levels = _columns([r for _, r in kept])
    strikes = [(k, *hit) for k, pattern in enumerate(patterns) for hit in pattern or ()]
    if not strikes:
        return
    of, xs, holds, accents = _columns(strikes)
    swung = np.array([sw(x, x) for x in xs.tolist()])
    inside = (xs >= los[:, None] - _EPS) & (xs < his[:, None] - _EPS)
    row, hit = np.nonzero(inside & (of[None, :] == figure[:, None]))
    chord_ids = ids[row]
    harmony.add(
        starts[row] + swung[hit] + feel,
        np.maximum(holds[hit], 0.1),
        starts[row] + his[row],
        levels[row] * accents[hit],
        _voices_of(table, counts, chord_ids),
        timing=score.kj,
        dynamics=score.kv,
        voices=counts[chord_ids],
        spread=_STRUM_SPREAD if score.plan.instrumentation.comping == "strum" else 0.0,
    )


def _fifth(chord: Chord) -> int:
    """The chord's own fifth above its root (diminished or augmented where it has one)."""
    return next((iv for iv in (7, 6, 8) if iv in chord.intervals), 7)


def _comp_pattern(
    style: str, score: _Score, legato: float, figure: int = 1
) -> list[tuple[float, float, float]] | None:
    """Where a comping style strikes within a bar: (beat, length, accent) per onset, in
    one of its figures (1 as the style is written, 0 sparser, 2 busier); None for the
    styles played another way (sustain, arpeggio, ostinato)."""
    bpb, beat_starts, eighths = score.bpb, score.beat_starts, score.eighths
    offs = [x for x in eighths if x not in beat_starts]
    if style == "pulse":
        beats = beat_starts[::2] if figure == 0 and len(beat_starts) == 4 else beat_starts
        hits = [(x, 0.9 * (0.5 + 0.5 * legato), 1.0) for x in beats]
        # The busiest pulse pushes the next bar: a short chord on the bar's last eighth.
        return hits + ([(offs[-1], 0.4, 0.8)] if figure == 2 and offs else [])
    if style == "eighths":
        # The busiest figure adds a sixteenth pickup into the middle (simple meters only).
        push = [1.75] if score.plan.meter[1] == 4 else []
        grid = {0: [x for x in eighths if x % 2 != 1.5], 2: [*eighths, *push]}.get(figure, eighths)
        return [
            (x, 0.2 if x % 0.5 else 0.42, 1.0 if x in beat_starts else 0.8)
            for x in sorted(grid)
            if x < bpb
        ]
    if style == "offbeat":
        grid = [x for x in offs if int(x) % 2 == 1] if figure == 0 else offs
        hits = [(x, 0.35, 0.9) for x in grid]
        if figure == 2 and score.plan.meter[1] == 4:
            hits += [(x + 0.75, 0.2, 0.7) for x in beat_starts if x + 0.75 < bpb]
        return sorted(hits)
    if style == "stabs":
        return [(x, 0.2, 1.0 if x % 1 == 0 else 0.8) for x in _STABS[figure] if x < bpb]
    if style == "charleston":
        return _charleston(bpb, figure)
    if style == "strum":
        return _strum(beat_starts, offs, bpb, figure)
    return None


def _strum(
    beat_starts: list[float], offs: list[float], bpb: float, figure: int
) -> list[tuple[float, float, float]]:
    """Strummed chords: on the beats (figure 0), with up-strokes after every beat but the
    first (1), or down, down-up, up-down-up (2, in 4/4)."""
    grid = list(beat_starts)
    if figure == 1 or (figure == 2 and bpb != 4):
        grid += offs[1:]
    elif figure == 2:
        grid = [0.0, 1.0, 1.5, 2.5, 3.0, 3.5]
    return [(x, 0.45, 1.0 if x in beat_starts else 0.75) for x in sorted(grid)]


_STABS: tuple[tuple[float, ...], ...] = (
    (0.0, 1.5, 2.0, 2.75, 3.5, 4.0, 5.5),
    (0.0, 0.75, 1.5, 2.5, 2.75, 3.5, 4.0, 4.75, 5.5),
    (0.0, 0.75, 1.25, 2.5, 3.0, 3.75, 4.0, 4.75, 5.25),
)
"""Funk stab grids, sparse to busy (positions past the bar are dropped)."""


def _charleston(bpb: float, figure: int) -> list[tuple[float, float, float]]:
    """Jazz comping, repeated every half bar of 4 or more: two-beat chords (figure 0),
    the Charleston (1, and-of-2), or the Charleston answered and pushed (2)."""
    if bpb < 3:
        return [(0.0, 0.9, 1.0)]
    hits = [(0.0, 1.8, 1.0)] if figure == 0 else [(0.0, 0.9, 1.0), (1.5, 0.45, 0.85)]
    if bpb >= 4:
        hits += [(x + 2.0, d, a) for x, d, a in hits if x + 2.0 < bpb]
    if figure == 2 and bpb >= 4:
        # The second half answers on the and-of-3 and pushes into the next bar.
        hits = [*hits[:2], (2.5, 0.4, 0.85), (bpb - 0.5, 0.4, 0.8)]
    return hits


def _broken_chord(
    score: _Score,
    style: str,
    voicing: tuple[int, ...],
    bar_start: float,
    lo: float,
    hi: float,
    velocity: float,
) -> list[Row]:
    """One bar of an arpeggio or ostinato over ``voicing``, inside [lo, hi) of the bar."""
    plan = score.plan
    step = 0.5 if plan.note_density >= 0.3 or style == "ostinato" else 1.0
    order = _arpeggio_order(style, len(voicing), score.arr.arpeggio_order)
    # Every voice (the root included) must sound in each bar, even short ones.
    heard = max(order.index(v) for v in set(order)) + 1  # strikes until every voice sounds
    while step > 0.25 and (hi - lo) / step < max(heard, len(voicing)):
        step /= 2
    hold = step * (0.45 if style == "ostinato" else 1.6 + 1.2 * plan.legato)
    on_beat = score.beat_starts
    onset = bar_start + score.feel
    rows: list[Row] = []
    x = 0.0
    k = 0
    while x < score.bpb - _EPS:
        if lo - _EPS <= x < hi - _EPS:
            p = voicing[order[k % len(order)] % len(voicing)]
            accent = 1.0 if x in on_beat else 0.82
            rows.append((onset + score.swing.get(x, x), hold, bar_start + hi, velocity * accent, p))
            k += 1
        x += step
    return rows


def _arpeggio_order(style: str, voices: int, figure: int) -> list[int]:
    """The order the voices of a broken chord sound in: an ostinato's cells, or an
    arpeggio up and down, up only, or an Alberti-like low-high-middle-high figure."""
    if style == "ostinato":
        cells = ([0, 2, 1, 3], [0, 1, 2, 3], [0, 3, 1, 2])
        return cells[figure] if voices >= 4 else [0, 2, 1, 2]
    up = list(range(voices))
    if figure == 1:
        return up
    if figure == 2 and voices >= 3:
        return [v for k in range(voices - 1) for v in (k, voices - 1)]
    return up + list(range(voices - 2, 0, -1))


# ---------------------------------------------------------------- bass


@lru_cache(maxsize=1024)  # chords repeat within a piece and across pieces
def _fifth_of(chord: Chord) -> int:
    """Semitones from the chord's bass note up to its fifth: perfect, diminished (ø7, °)
    or augmented, whichever the chord holds; else the chord tone a sixth up (a slash
    bass), or 0."""
    above = {(pc - chord.bass_pc) % 12 for pc in chord.pitch_classes}
    return next((iv for iv in (7, 6, 8, 9) if iv in above), 0)


def _bass_roots(score: _Score) -> tuple[list[int], list[int], list[int]]:
    """Each slot's bass note (its chord's root or written bass), the chord's fifth over
    it, and the note that leads into the next slot's: a scale step beside it, from the
    side the line comes from, or the fifth when the chord does not change."""
    plan, key = score.plan, score.key
    low, high = plan.registers.bass_low, plan.registers.bass_high
    centre = (low + high) // 2 + score.arr.bass_shift
    roots = [_place((chord.bass_pc,), centre, low, high) for chord in score.chords]
    fifths = [
        root + iv if root + iv <= high else root + iv - 12
        for root, iv in zip(roots, (_fifth_of(c) for c in score.chords), strict=True)
    ]
    approaches: list[int] = []
    for i, root in enumerate(roots):
        nxt = roots[(i + 1) % len(roots)]
        if nxt == root:
            approaches.append(fifths[i])
        else:
            side = -1 if nxt > root else 1
            floor = max(low, nxt - 2)  # never below what the instrument can play
            near = _place(key.scale, nxt + 2 * side, floor, nxt + 2)
            if near == root:  # a step away already: come from the other side instead
                near = _place(key.scale, nxt - 2 * side, floor, nxt + 2)
            approaches.append(near)
    return roots, fifths, approaches


_BassRow = tuple[float, float, int, int, float]
"""(beat, length, interval above the root, role, accent) of one bass note in a bar."""


def _bass_pattern(score: _Score, style: str, figure: int = 1) -> list[_BassRow]:
    """One bar of a patterned bass style in one of its figures (1 as written, 0 plainer,
    2 busier): ``_BassRow``s; role 1 plays the fifth, role 2 the note leading into the
    next chord (in the chord's last bar only; elsewhere the root)."""
    beats = score.beat_starts
    if style in _BASS_STYLES:
        return _BASS_STYLES[style](score, figure)
    if len(beats) != 4 or score.bpb != 4:
        # Syncopation for other meters follows their own beat groups: the root on each
        # felt beat, the octave on the eighth before the next, a lead-in at the end.
        rows = [(x, 0.4, 0, 0, 1.0) for x in beats]
        rows += [(b - 0.5, 0.22, 12, 0, 0.8) for b in beats[1:] if b - 0.5 > 0]
        return [*sorted(rows), (score.bpb - 0.5, 0.22, 0, 2, 0.8)]
    # (beat, interval, role): the fifth on beat 3 is the chord's own (role 1).
    return [
        (x, 0.22 if iv or role else 0.4, iv, role, 0.8 if iv or role else 1.0)
        for x, iv, role in _FUNK_BASS[figure]
    ]


def _middle_beat(score: _Score) -> float:
    beats = score.beat_starts
    return beats[len(beats) // 2] if len(beats) > 1 else score.bpb


def _root_fifth_bar(score: _Score, figure: int) -> list[_BassRow]:
    bpb, beats, mid = score.bpb, score.beat_starts, _middle_beat(score)
    if figure == 2 and len(beats) == 4:
        # Root, octave, fifth, lead-in: a walking two-beat.
        return [(0.0, 0.9, 0, 0, 1.0), (1.0, 0.9, 12, 0, 0.8), (2.0, 0.9, 0, 1, 0.85),
                (3.0, 0.9, 0, 2, 0.8)]  # fmt: skip
    if figure == 0 and len(beats) > 2:
        # Root, root, lead-in: the middle beat (where a second chord starts) keeps a root.
        return [(0.0, mid * 0.9, 0, 0, 1.0), (mid, 0.9, 0, 0, 0.85), (beats[-1], 0.9, 0, 2, 0.8)]
    return [(0.0, mid * 0.9, 0, 0, 1.0), (mid, (bpb - mid) * 0.9, 0, 1, 0.85)]


def _eighths_bar(score: _Score, figure: int) -> list[_BassRow]:
    # Driving eighths on the root, an octave lift before the bar's middle beat (on every
    # off-beat in the busiest figure; with the fifth before the last eighth in figure 0),
    # the last eighth walking into the next chord.
    beats, eighths, mid = score.beat_starts, score.eighths, _middle_beat(score)

    def lift(x: float) -> tuple[int, int]:
        if x == eighths[-1]:
            return 0, 2
        if figure == 0 and len(eighths) > 3 and x == eighths[-2]:
            return 0, 1
        if figure == 2:
            return (12 if x % 1 else 0), 0
        return (12 if abs(x - (mid - 0.5)) < _EPS else 0), 0

    return [(x, 0.42, *lift(x), 1.0 if x in beats else 0.8) for x in eighths]


def _octave_pulse_bar(score: _Score, figure: int) -> list[_BassRow]:
    # The root on the beats and the octave between them; the plainest figure keeps only
    # the bar's first and middle roots under the off-beat octaves, the busiest doubles
    # each beat's root a sixteenth later.
    beats, eighths = score.beat_starts, score.eighths
    # Where a bar's second chord starts (``plan._slot_grid``): a plainer figure keeps it.
    split = beats[(len(beats) + 1) // 2] if len(beats) > 1 else 0.0
    grid = [x for x in eighths if x % 1 or x in (0.0, split)] if figure == 0 else eighths
    rows = [(x, 0.3, 12 if x % 1 else 0, 0, 0.9 if x % 1 else 1.0) for x in grid]
    if figure == 2 and score.plan.tempo_bpm <= 132 and score.plan.meter[1] == 4:
        rows += [(x + 0.25, 0.2, 0, 0, 0.75) for x in beats if x + 0.25 < score.bpb]
    return sorted(rows)


_BASS_STYLES: dict[str, Callable[[_Score, int], list[_BassRow]]] = {
    "root_fifth": _root_fifth_bar,
    "eighths": _eighths_bar,
    "octave_pulse": _octave_pulse_bar,
}


_FUNK_BASS: tuple[tuple[tuple[float, int, int], ...], ...] = (
    ((0.0, 0, 0), (1.5, 12, 0), (2.0, 0, 1), (3.5, 0, 2)),
    ((0.0, 0, 0), (0.75, 0, 0), (1.5, 12, 0), (2.0, 0, 1), (2.75, 0, 0), (3.5, 12, 0)),
    ((0.0, 0, 0), (0.5, 12, 0), (0.75, 0, 0), (1.25, 0, 0), (2.0, 0, 1), (2.5, 12, 0),
     (3.25, 0, 0), (3.5, 0, 2)),
)  # fmt: skip
"""Syncopated 4/4 bass cells, plain to busy: (beat, interval, role)."""


_PatternedBar = tuple[int, float, float, float, float, bool]
"""(slot, bar start, start and end within the bar, velocity, whether the slot ends in this
bar) of a bar the bass plays in its style's pattern."""


def _bass(score: _Score, bass: _Part) -> None:
    """The bass line: each chord's root in the style's pattern, walking or held, moving
    into the next chord, and a held root under the last chord of the piece."""
    notes = _bass_roots(score)
    rows, patterned = _bass_bars(score, notes[0])
    bass.add_rows(rows, timing=score.kj * 0.7, dynamics=score.kv)
    if patterned:
        _patterned_bass(score, bass, patterned, notes)


def _bass_bars(score: _Score, roots: list[int]) -> tuple[list[Row], list[_PatternedBar]]:
    """The notes of the bars the bass holds or walks, in order, and the bars it plays in
    the style's pattern (laid out together afterwards)."""
    plan = score.plan
    style = plan.instrumentation.bass_style
    onset = score.bass_onset
    final_bar = score.bars - 1
    rows: list[Row] = []
    patterned: list[_PatternedBar] = []
    for i, b, bar_start, lo, hi in score.slot_bars:
        velocity = score.level(b, 0.9)
        now = "root" if score.energy[b] < 0.2 and style not in ("pedal", "root") else style
        on = bar_start + score.swing.get(lo, lo) + onset
        slot_start, slot_end = score.slot_spans[i]
        if now == "pedal":
            # One note held across the whole chord, however many bars it lasts.
            if b == score.slots[i].bar:
                rows.append((on, slot_end - slot_start - 0.05, slot_end, velocity, roots[i]))
        elif b == final_bar and bar_start + hi >= slot_end - _EPS:
            # The last chord: its root, held to the end.
            rows.append((on, hi - lo - 0.05, bar_start + hi, velocity, roots[i]))
        elif now == "root":
            hold = (hi - lo) * (0.8 + 0.19 * plan.legato)
            rows.append((on, hold, bar_start + hi, velocity, roots[i]))
        elif now == "walking":
            following = roots[(i + 1) % len(roots)]
            rows += _walking_bar(score, i, (roots[i], following), bar_start, lo, hi, velocity)
        else:
            last_of_slot = bar_start + hi >= slot_end - _EPS
            patterned.append((i, bar_start, lo, hi, velocity, last_of_slot))
    return rows, patterned


def _patterned_bass(
    score: _Score,
    bass: _Part,
    bars: list[_PatternedBar],
    notes: tuple[list[int], list[int], list[int]],
) -> None:
    """One bar of the style's pattern laid over every patterned bar at once; ``notes`` are
    ``_bass_roots``' roots, fifths and approach notes."""
    plan = score.plan
    high = plan.registers.bass_high
    ids, starts, los, his, levels, leads = _columns(bars)
    xs, holds, intervals, roles, accents = _columns(
        _bass_pattern(score, plan.instrumentation.bass_style, score.arr.bass_figure)
    )
    swung = np.array([score.swing.get(x, x) for x in xs.tolist()])
    row, hit = _grid(los, his, xs)
    pitch = _pattern_pitches(
        score, notes, ids[row], starts[row] + xs[hit], intervals[hit], roles[hit], leads[row]
    )
    if plan.instrumentation.voicing == "power" and plan.instrumentation.tonic_pedal:
        # Power chords have no third to name the mode: the bass chugs the low tonic on
        # the off-beats between the chords' roots (a pedal riff), and the key is heard.
        chug = _place((score.key.tonic_pc,), plan.registers.bass_low, plan.registers.bass_low, high)
        offbeat = (xs[hit] % 1 != 0) & (roles[hit] == 0) & (intervals[hit] == 0)
        pitch = np.where(offbeat, chug, pitch)
    bass.add(
        starts[row] + swung[hit] + score.bass_onset,
        holds[hit],
        starts[row] + his[row],
        levels[row] * accents[hit],
        pitch,
        timing=score.kj * 0.7,
        dynamics=score.kv,
    )


def _pattern_pitches(
    score: _Score,
    notes: tuple[list[int], list[int], list[int]],
    slot: Ints,
    at: Floats,
    interval: Ints,
    role: Ints,
    leads: NDArray[np.bool_],
) -> Ints:
    """Each patterned note's pitch (its slot, beat ``at``, the pattern's interval and role,
    whether its bar is the slot's last): the root plus the interval, the chord's fifth for
    role 1, the note leading into the next chord for role 2 in the slot's last bar, and the
    root on the chord's first beat."""
    roots, fifths, approaches = (np.array(column, dtype=np.int64)[slot] for column in notes)
    pitch = roots + interval
    # A leap that would climb over an octave above the bass register plays the root instead.
    pitch = np.where(pitch <= score.plan.registers.bass_high + 12, pitch, roots)
    pitch = np.where(role == 1, fifths, pitch)
    # A chord's first beat is its root, even where the bar's pattern has a fifth or an
    # octave there (the second chord of a bar starts mid-pattern).
    slot_starts = np.array([a for a, _ in score.slot_spans], dtype=np.float64)[slot]
    pitch = np.where(np.abs(at - slot_starts) < _EPS, roots, pitch)
    return np.where((role == 2) & leads, approaches, pitch)


def _walking_bar(
    score: _Score,
    slot: int,
    roots: tuple[int, int],
    bar_start: float,
    lo: float,
    hi: float,
    velocity: float,
) -> list[Row]:
    """One bar of walking bass: steps through chord and scale tones, leading by a
    semitone into the next chord's root (``roots``: this chord's and the next one's)."""
    root, following = roots
    plan = score.plan
    low, high = plan.registers.bass_low, plan.registers.bass_high
    scale = score.key.scale
    rand = score.rng.random
    beats = score.beat_starts
    slot_end = score.slot_spans[slot][1]
    last_bar_of_slot = bar_start + score.bpb >= slot_end - _EPS
    tones = score.chord_pcs[slot]
    onset = bar_start + score.bass_onset
    rows: list[Row] = []
    cur = root
    # The beats this chord holds in this bar: a second chord of the bar starts mid-bar,
    # on its root, and the last of them leads into the next chord.
    held = [x for x in beats if lo - _EPS <= x < hi - _EPS]
    for k, x in enumerate(held):
        if k == 0:
            p = root
        elif k == len(held) - 1 and last_bar_of_slot:
            p = following + (1 if rand() < 0.5 or following <= low else -1)
        else:
            pcs = tones if rand() < 0.6 else scale
            p = _place(pcs, cur + (2 if rand() < 0.55 else -2), low, high)
            if p == cur:
                p = _place(scale, cur + 2, low, high)
        nxt = held[k + 1] if k + 1 < len(held) else hi
        accent = 1.0 if k == 0 else 0.85
        rows.append(
            (onset + score.swing.get(x, x), (nxt - x) * 0.88, bar_start + hi, velocity * accent, p)
        )
        cur = p
    return rows


# ---------------------------------------------------------------- melody


MotifNote = tuple[float, float, int]
"""(beat from the start of its motif bar, length in beats, scale steps from the anchor)."""

# Per new material, in order of first appearance: how the motif is developed and where
# it sits (scale steps above the opening's anchor). A is the motif itself; B answers it
# upside down and higher (a chorus or bridge lifts); C stretches its head in time; D
# runs it backwards. Later materials cycle through these a step higher each round.
_DEVELOPMENTS: tuple[tuple[str, int], ...] = (
    ("statement", 0),
    ("inversion", 2),
    ("augmentation", 1),
    ("retrograde", -1),
)
# Pitch classes a phrase's last note prefers, as scale degrees (0-based), by cadence.
_CADENCE_TONES: dict[str, tuple[int, ...]] = {
    "authentic": (0, 2, 4),
    "half": (4, 1, 6),
    "deceptive": (0, 2),
    "open": (1, 4),
}


@dataclass(frozen=True, slots=True)
class _Line:
    """What the melody's phrases share: the scale in range, the motif, the rhythm helpers."""

    notes: list[int]
    """Scale notes inside the melody register, low to high."""
    motif: list[list[MotifNote]]
    """The motif, bar by bar (one or two bars)."""
    cut: float
    """Felt beat where a cadence bar's held last note starts."""
    bpb: float
    low: int
    high: int
    """The melody's range (``_melody_range``)."""
    scale: frozenset[int]
    strong: frozenset[float]
    """Felt-beat starts in a bar."""
    accented: frozenset[float]
    """The felt beats that may carry a chord tone: the downbeat, and the middle beat of a
    bar of four or more (``_accented`` says which a bar's notes need); on the others a
    note reached by step may pass."""
    gate: float
    """Sounding share of a note's length, from the preset's legato."""
    onset: float
    """Beats added to every onset: the groove's feel and any displacement."""


def _melody_range(plan: Plan) -> tuple[int, int]:
    """The melody's lowest and highest pitch: the preset's register, kept above the
    accompaniment's top (a whole step of overlap at most, and never above the centre's
    fifth below)."""
    regs = plan.registers
    low = max(regs.melody_low, min(regs.harmony_high - 2, regs.melody_centre - 7))
    return low, regs.melody_high


def _melody_rhythm(score: _Score) -> Callable[[], list[tuple[float, float]]]:
    """A generator of one bar of (onset, length) pairs: long notes on felt beats, short
    ones off them, lengths around the preset's preferred one."""
    plan, bpb, rand = score.plan, score.bpb, score.rng.random
    pref = 2 ** (1.6 - 3.2 * plan.note_density)
    lengths = [x for x in (4.0, 3.0, 2.0, 1.5, 1.0, 0.5, 0.25) if x <= bpb]
    weights = [math.exp(-((math.log2(x) - math.log2(pref)) ** 2) / 0.9) for x in lengths]
    strong = set(score.beat_starts)
    count = len(lengths)
    short_from = next((i for i, x in enumerate(lengths) if x <= 1.0), count)
    tail_sums = [list(accumulate(weights[i:])) for i in range(count)]

    def bar_rhythm() -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        pos = 0.0
        while pos < bpb - _EPS:
            first = 0
            while first < count and lengths[first] > bpb - pos + _EPS:
                first += 1
            if first == count:
                break
            if pos not in strong and short_from < count:
                first = max(first, short_from)
            sums = tail_sums[first]
            x = lengths[first + bisect(sums, rand() * sums[-1], 0, len(sums) - 1)]
            out.append((pos, x))
            pos += x
        return out

    return bar_rhythm


def _motif(score: _Score, bars: int) -> list[list[MotifNote]]:
    """A one- or two-bar motif: a rhythm and a contour that rises then falls, mostly by step
    (turning later for a brighter reading, climbing higher for a stronger one), with rests
    where the feeling wants space (never on the downbeat)."""
    rand = score.rng.random
    rhythm = _melody_rhythm(score)
    rest_p = score.plan.space * 0.8
    strong = set(score.beat_starts)
    # A stronger feeling climbs further; the contour turns where the reading puts it.
    top = 3 + round(4 * score.plan.emotion.intensity)
    turn = bars * score.bpb * score.arr.contour_peak
    step = move = before = 0
    motif: list[list[MotifNote]] = []
    for m in range(bars):
        bar: list[MotifNote] = []
        for x, length in rhythm():
            if x > 0 and x not in strong and rand() < rest_p:
                continue
            bar.append((x, length, step))
            direction = 1 if m * score.bpb + x < turn else -1
            before, move = move, _contour_move(rand, direction, move, before)
            # At the edge of its range the line turns back rather than trilling there.
            step = step + move if -4 <= step + move <= top else max(-4, min(top, step - move))
        motif.append(bar)
    return motif


def _contour_move(rand: Callable[[], float], direction: int, last: int, before: int) -> int:
    """The motif's next move in scale steps: mostly a step the way the contour goes; now
    and then two steps against it (one step back and straight on again is a trill: C D C
    D); after a leap, a step back (the gap a leap opens is filled)."""
    if abs(last) >= 2:
        return -1 if last > 0 else 1
    turned = last != 0 and (last > 0) != (direction > 0)
    if turned and not (before != 0 and (before > 0) != (direction > 0)):
        return -direction
    if not turned and rand() < 0.2:
        direction = -direction
    return direction * (1 if rand() < 0.72 else (2 if rand() < 0.75 else 3))


def _developed(line: _Line, development: str) -> list[list[MotifNote]]:
    """The motif transformed: inverted, augmented (its first bar at half speed), reversed."""
    motif = line.motif
    if development == "inversion":
        return [[(x, d, -s) for x, d, s in bar] for bar in motif]
    if development == "augmentation":
        head = [(2 * x, 2 * d, s) for x, d, s in motif[0]]
        bpb = line.bpb
        return [
            [(x - k * bpb, d, s) for x, d, s in head if k * bpb <= x < (k + 1) * bpb]
            for k in range(len(motif))
        ]
    if development == "retrograde":
        return [
            [(x, d, s) for (x, d, _), (_, _, s) in zip(bar, reversed(bar), strict=True)]
            for bar in motif
        ]
    return motif


def _sequences(motif: list[list[MotifNote]]) -> list[int]:
    """The scale steps a restated motif may move by: those that reach its first note by
    step from its last (a restatement that leaps back is heard as a new start; in slow
    tunes one came every two bars), or any of the four when none does."""
    steps = [s for bar in motif for _, _, s in bar]
    if not steps:
        return [1, -1, 2, -2]
    joined = [k for k in (1, -1, 2, -2) if 1 <= abs(k + steps[0] - steps[-1]) <= 2]
    return joined or [1, -1, 2, -2]


def _phrase_body(
    line: _Line, development: str, anchor: int, sequence: int, bars: int
) -> list[list[MotifNote]]:
    """The notes of each bar of a phrase before its cadence bar: the developed motif, then
    the motif again a ``sequence`` of scale steps away, and so on."""
    developed = _developed(line, development)
    size = len(developed)
    return [
        [(x, d, anchor + s + (k // size) * sequence) for x, d, s in developed[k % size]]
        for k in range(bars)
    ]


def _fitting_anchor(line: _Line, development: str, anchor: int, sequence: int, bars: int) -> int:
    """The anchor moved by the fewest scale steps that bring the phrase inside the range
    when no whole octave does: there ``_inside`` mirrors it, and a line turning at the
    edge trilled (G# F# G# F#, ninth session). A phrase wider than the range keeps it."""
    top, octave = len(line.notes) - 1, len(line.scale)
    steps = [s for bar in _phrase_body(line, development, anchor, sequence, bars) for *_, s in bar]
    if not steps:
        return anchor
    lo, hi = min(steps), max(steps)
    if hi - lo > top or any(lo + k * octave >= 0 and hi + k * octave <= top for k in range(-3, 4)):
        return anchor
    return anchor - lo if lo < 0 else anchor + top - hi


def _inside(body: list[list[MotifNote]], top: int, octave: int) -> list[list[MotifNote]]:
    """The phrase moved by whole octaves until its steps fit the range (0..``top``); a
    step still outside is mirrored back in. Cut off at the edge instead, a line repeats its
    edge note (a run of eight F#s in a joy tune, seventh session)."""
    steps = [s for bar in body for _, _, s in bar]
    if not steps:
        return body
    lo, hi = min(steps), max(steps)
    shift = 0
    while lo + shift < 0 and hi + shift + octave <= top:
        shift += octave
    while hi + shift > top and lo + shift - octave >= 0:
        shift -= octave

    def mirrored(step: int) -> int:
        step += shift
        step = -step if step < 0 else step
        return max(0, min(top, 2 * top - step if step > top else step))

    return [[(x, d, mirrored(s)) for x, d, s in bar] for bar in body]


def _melody(score: _Score, part: _Part) -> None:
    """A melody grown from one motif: each phrase states or develops it, phrases with the
    same material repeat it, and every phrase lands on its cadence's tone."""
    plan, key = score.plan, score.key
    low, high = _melody_range(plan)
    scale_pcs = set(key.scale)
    notes = [p for p in range(low, high + 1) if p % 12 in scale_pcs]
    if len(notes) < 3:
        return
    # The tune is anchored on a tone of the home chord: its root, third or fifth.
    home = key.scale[score.arr.melody_degree]
    centre = _place((home,), plan.registers.melody_centre, low, high)
    anchor = min(range(len(notes)), key=lambda i: abs(notes[i] - centre))
    phrases = [p for p in plan.phrases if p.label != INTRO]
    line = _melody_line(score, notes, low, high, motif_bars=2 if phrases[0].bars >= 4 else 1)
    rows = _melody_rows(score, line, phrases, anchor, centre)
    part.add_rows(rows, timing=score.kj, dynamics=score.kv)


def _melody_line(score: _Score, notes: list[int], low: int, high: int, motif_bars: int) -> _Line:
    """What every phrase of the melody shares, with a new motif of ``motif_bars`` bars."""
    half = score.beat_starts[len(score.beat_starts) // 2] if len(score.beat_starts) > 1 else 0.0
    return _Line(
        notes,
        _motif(score, motif_bars),
        half,
        score.bpb,
        low,
        high,
        frozenset(score.key.scale),
        frozenset(score.beat_starts),
        frozenset((0.0, half) if len(score.beat_starts) >= 4 else (0.0,)),
        0.35 + 0.63 * score.plan.legato,
        score.feel + score.plan.groove.displacement,
    )


def _melody_rows(
    score: _Score, line: _Line, phrases: list[Phrase], anchor: int, centre: int
) -> list[Row]:
    """Every phrase's rows: a new material takes the next development of the motif (from
    ``anchor``, lifted), a repeated one the shape it had; each phrase follows the last."""
    shapes: dict[str, tuple[str, int, int]] = {}
    rows: list[Row] = []
    prev = centre
    for phrase in phrases:
        if phrase.material not in shapes:
            development, lift = _DEVELOPMENTS[len(shapes) % len(_DEVELOPMENTS)]
            lift += 2 * (len(shapes) // len(_DEVELOPMENTS))
            sequence = score.rng.choice(_sequences(_developed(line, development)))
            at = _fitting_anchor(line, development, anchor + lift, sequence, phrase.bars)
            shapes[phrase.material] = (development, at, sequence)
        development, at, sequence = shapes[phrase.material]
        body = _phrase_body(line, development, at, sequence, phrase.bars)
        body = _inside(body, len(line.notes) - 1, len(line.scale))
        ending = prev % 12 if phrase is not phrases[0] else None
        prev = _phrase_rows(score, line, phrase, body, prev, rows, ending)
    return rows


def _phrase_rows(
    score: _Score,
    line: _Line,
    phrase: Phrase,
    body: list[list[MotifNote]],
    prev: int,
    rows: list[Row],
    avoid: int | None = None,
) -> int:
    """Realise one phrase against its chords; returns the last pitch written (``avoid``:
    the pitch class the previous phrase ended on).

    Notes on felt beats are chord tones (``_felt_tone``), others stay on the scale; the
    last bar keeps the notes before its middle beat and then holds the cadence's tone.
    Realisation draws nothing at random, so a phrase over the same chords repeats exactly.
    """
    trail: _Trail = (None, -99, None)
    for k, bar_notes in enumerate(body):
        b = phrase.start_bar + k
        last = k == len(body) - 1
        vbase = score.level(b, 1.0)
        trail = _bar_rows(score, line, b, bar_notes, vbase, last, trail, rows)
        if last:
            _, last_pitch, under = trail
            before = prev if under is None else last_pitch
            prev = _cadence_note(score, line, phrase, b, before, vbase, rows, avoid)
            if under is not None:
                _lead_into(rows, prev, under, line)
    return prev


_Trail = tuple[int | None, int, tuple[tuple[int, ...], bool] | None]
"""Where a phrase's line stands after its latest note: the note's scale step and pitch,
and the chord tones under it with whether it fell on a felt beat ((None, -99, None) before
the phrase's first note)."""


def _bar_rows(
    score: _Score,
    line: _Line,
    bar: int,
    bar_notes: list[MotifNote],
    velocity: float,
    last: bool,
    trail: _Trail,
    rows: list[Row],
) -> _Trail:
    """Realise one bar of a phrase into ``rows``, going on from ``trail``; the ``last`` bar
    stops where its cadence's held note starts. Returns the trail after the bar."""
    last_step, last_pitch, under = trail
    cut, strong = line.cut, line.strong
    bar_start = bar * score.bpb + line.onset
    only = score.bar_slots[bar][0] if len(score.bar_slots[bar]) == 1 else -1
    accented = _accented(line, bar_notes)
    for x, length, step in bar_notes:
        if last and x >= cut - _EPS and x > 0:
            break
        pcs = score.chord_pcs[only if only >= 0 else score.chord_at(bar, x)]
        pitch = _line_pitch(line, pcs, x, step, accented, last_step, last_pitch)
        if last and x + length > cut + _EPS and cut > 0:
            length = cut - x
        accent = 1.0 if x == 0 else (0.92 if x in strong else 0.84)
        onset = bar_start + score.swing.get(x, x)
        rows.append((onset, length * line.gate, score.total_beats, velocity * accent + 6, pitch))
        last_step, last_pitch = step, pitch
        under = (pcs, x in strong or x == 0)
    return last_step, last_pitch, under


def _line_pitch(
    line: _Line,
    pcs: tuple[int, ...],
    x: float,
    step: int,
    accented: frozenset[float],
    last_step: int | None,
    last_pitch: int,
) -> int:
    """The pitch of the note at scale ``step`` on beat ``x`` over the chord tones ``pcs``: on
    a felt beat a chord tone (``_felt_tone``), unless it passes by step off the ``accented``
    beats; elsewhere the scale note, or the borrowed chord tone a semitone from it."""
    top = len(line.notes) - 1
    pitch = line.notes[top if step > top else (step if step > 0 else 0)]
    passing = 0 < abs(pitch - last_pitch) <= 2 and x not in accented
    if (x in line.strong or x == 0) and not passing:
        motion = 0 if last_step is None else step - last_step
        return _felt_tone(pcs, pitch, motion, line.low, line.high, last_pitch)
    for alt in (pitch + 1, pitch - 1):
        # A borrowed chord tone (the raised seventh over V in minor) replaces
        # the scale note a semitone away, so the line never rubs its chord.
        if alt % 12 in pcs and alt % 12 not in line.scale and pitch % 12 not in pcs:
            return alt
    return pitch


def _accented(line: _Line, bar_notes: list[MotifNote]) -> frozenset[float]:
    """The beats of a bar that must carry a chord tone: the downbeat, and the middle beat
    only when a note starts between the two. A tune in half notes passes by step on the
    middle beat, as second-species counterpoint does; with both on chord tones, slow
    tunes moved in thirds and fourths (docs/music.md, "Slow tunes that move")."""
    if any(0 < x < line.cut for x, _, _ in bar_notes):
        return line.accented
    return frozenset((0.0,))


def _felt_tone(
    pcs: tuple[int, ...], pitch: int, motion: int, low: int, high: int, last: int
) -> int:
    """The chord tone a felt beat's note becomes: the note itself when it is one; else, when
    the line moves by step, a chord tone a step on from the ``last`` note, so it keeps
    moving by step; else the chord tone next to the note on the side the line is moving to
    (the nearest when it holds). Snapped to the nearest, a rising line fell back onto the
    note it had just played: repeated notes and zig-zags (docs/music.md, "Melodies that
    move")."""
    if pitch % 12 in pcs or motion == 0:
        return _place(pcs, pitch, low, high)
    way = 1 if motion > 0 else -1
    near = (last + way, last + 2 * way) if abs(motion) == 1 else ()
    for candidate in near:
        if low <= candidate <= high and candidate % 12 in pcs:
            return candidate
    for distance in range(1, 12):
        candidate = pitch + way * distance
        if not low <= candidate <= high:
            break
        if candidate % 12 in pcs:
            return candidate
    return _place(pcs, pitch, low, high)


def _cadence_note(
    score: _Score,
    line: _Line,
    phrase: Phrase,
    bar: int,
    prev: int,
    velocity: float,
    rows: list[Row],
    avoid: int | None,
) -> int:
    """The phrase's held last note: a tone of the cadence that the chord under it holds."""
    plan, key, at = score.plan, score.key, line.cut
    pcs = score.chord_pcs[score.chord_at(bar, at)]
    wanted = [key.scale[d] for d in _CADENCE_TONES[phrase.cadence]]
    # The cadence's telling tones that the chord holds (the tonic or third over I, the
    # fifth or second degree over V), then its other tones. The piece ends on the first;
    # a phrase before it takes the nearest telling tone that the previous phrase did not
    # end on (``avoid``), so a loop of equal cadences does not end every phrase on one
    # note.
    ordered = [pc for pc in wanted if pc in pcs] + [pc for pc in pcs if pc not in wanted]
    if phrase.end_bar < plan.length_bars:
        ordered = [pc for pc in ordered if pc != avoid] or ordered
        # The nearest, and not the note just played: taking the first, a third of slow
        # tunes' cadences leapt a fourth or more.
        telling = [pc for pc in ordered if pc in wanted] or ordered[:1]
        near = [_place((pc,), prev, line.low, line.high) for pc in telling]
        pitch = min(near, key=lambda p: (p == prev, abs(p - prev)))
    else:
        pitch = _place((ordered[0],), prev, line.low, line.high)
    bar_start = bar * score.bpb
    hold = (score.bpb - at) * max(0.9, line.gate)
    onset = bar_start + score.swing.get(at, at) + line.onset
    rows.append((onset, hold, score.total_beats, velocity * 0.96 + 6, pitch))
    return pitch


def _lead_into(
    rows: list[Row], pitch: int, under: tuple[tuple[int, ...], bool], line: _Line
) -> None:
    """The note before a cadence (``rows[-2]``, over the chord tones ``under[0]``, on a felt
    beat when ``under[1]``) leads into its tone (``pitch``) by step: a leap onto the last
    note of a phrase does not sound like arriving (the last note was leapt to in 37 % of
    pieces, ninth session). It becomes the scale tone next to the cadence's on the side it
    came from (a repeated note: from above if it can), the second or seventh degree before
    the tonic; on a felt beat only when it is a tone of the chord there."""
    before = rows[-2][4]
    if 0 < abs(pitch - before) <= 2:
        return
    # A repeated note comes down from the step above when it can (2 to 1), else up.
    sides = (1, -1) if before == pitch else ((1,) if before > pitch else (-1,))
    pcs, felt = under
    for way in sides:
        lead = next(p for p in (pitch + way, pitch + 2 * way, pitch) if p % 12 in line.scale)
        if lead != pitch and line.low <= lead <= line.high and (not felt or lead % 12 in pcs):
            rows[-2] = (*rows[-2][:4], lead)
            return


# ---------------------------------------------------------------- drums


def _fill_bars(score: _Score) -> set[int]:
    """Bars that lead into a new section or new material with a fill."""
    plan = score.plan
    starts = set(score.section_starts)
    starts |= {p.start_bar for q, p in pairwise(plan.phrases) if p.material != q.material}
    return {b - 1 for b in starts if 0 < b < score.bars}


def _fill(score: _Score, bar: int, level: float) -> tuple[float, list[Row]]:
    """A fill over the bar's last felt beat (two when the feeling is strong): snare then
    toms falling, getting louder; returns where it starts (beats into the bar) and its
    notes."""
    beats = score.beat_starts
    fast = score.plan.tempo_bpm > 140
    # A fill lasts about a second: the last felt beat in sixteenths, or the last two in
    # eighths when the tempo is fast.
    # Two felt beats of sixteenths would cross a compound beat's eighths: one there.
    compound = score.plan.meter[1] == 8 and score.plan.meter[0] % 3 == 0
    span = 2 if fast else (1 if compound else score.arr.fill_beats)
    start = beats[-min(span, len(beats) - 1)] if len(beats) > 1 else score.bpb / 2
    step = 0.5 if fast else 0.25
    count = max(1, round((score.bpb - start) / step))
    bar_start = bar * score.bpb
    rows: list[Row] = []
    for k in range(count):
        note = _SNARE if k == 0 else _TOMS[min(len(_TOMS) - 1, (k - 1) * len(_TOMS) // count)]
        velocity = level * (0.75 + 0.3 * k / count)
        rows.append((bar_start + start + k * step, 0.2, math.inf, velocity, note))
    return start, rows


def _drums(score: _Score, drums: _Part) -> None:
    """Each section's groove every bar, hats only in sparse bars, a fill into each new
    section or material and a crash on its downbeat, a crash on the last bar."""
    bars = score.bars
    fills = _fill_bars(score)
    extra: list[Row] = []  # crashes and fills
    starts: list[float] = []
    levels: list[float] = []
    sparse: list[bool] = []
    fill_from: list[float] = []
    hushed = [
        (score.section[b] == "intro" and bars >= 8) or score.energy[b] < 0.2 for b in range(bars)
    ]
    for b in range(bars):
        bar_start = b * score.bpb
        level = score.level(b, 0.95)
        quiet = hushed[b]
        if b - 1 in fills and not quiet:
            extra.append((bar_start, 1.5, math.inf, level, _CRASH))
        cut = score.bpb + 1
        # A quiet bar fills too when the band comes in after it (the drummer's entrance).
        if b in fills and not (quiet and (b + 1 >= bars or hushed[b + 1])):
            cut, fill = _fill(score, b, level)
            extra += fill
        starts.append(bar_start)
        levels.append(level)
        sparse.append(quiet)
        fill_from.append(cut)
    if bars >= 4:
        last = (bars - 1) * score.bpb
        extra.append((last, 1.5, math.inf, score.level(bars - 1, 0.9), _CRASH))
    drums.add_rows(extra, timing=0.0, dynamics=score.kv * 0.3)
    _grooves(score, drums, (np.array(starts), np.array(levels), np.array(fill_from)), sparse)


def _grooves(
    score: _Score, drums: _Part, bars: tuple[Floats, Floats, Floats], sparse: list[bool]
) -> None:
    """Each bar plays its section's groove (``bars``: start, level and where a fill cuts
    in, per bar); sparse bars keep only the hats, softer; a fill replaces the groove."""
    starts, levels, fill_from = bars
    names = list(score.arr.grooves)
    patterns = list(score.arr.grooves.values())
    if not patterns:
        return
    # Every groove's kick, snare and hat rows side by side, one character per step.
    steps = patterns[0].steps
    cells = np.frombuffer("".join(p.kick + p.snare + p.hat for p in patterns).encode(), np.uint8)
    where = np.nonzero(cells != ord("."))[0]
    line, step = where // steps, where % steps  # line = 3 * groove + row
    groove = line // 3
    rows = np.array([(_KICK, p.snare_note, p.hat_note) for p in patterns], dtype=np.int64)
    pitch = rows[groove, line % 3]
    hat = pitch == np.array([p.hat_note for p in patterns])[groove]
    accents = _ACCENTS[cells[where]]
    width = score.bpb / steps
    swung = np.array([score.swing.get(k * width, k * width) for k in range(steps)])[step]
    quiet = np.array(sparse)
    index = {name: k for k, name in enumerate(names)}
    played = np.array([index.get(name, -1) for name in score.section])
    keep = (~quiet[:, None] | hat[None, :]) & (swung[None, :] < fill_from[:, None] - _EPS)
    row, hit = np.nonzero(keep & (groove[None, :] == played[:, None]))
    drums.add(
        starts[row] + swung[hit],
        0.2,
        math.inf,
        levels[row] * accents[hit] * np.where(quiet[row], 0.7, 1.0),
        pitch[hit],
        timing=score.kj * 0.5,
        dynamics=score.kv * 0.6,
    )
