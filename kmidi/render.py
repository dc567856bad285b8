"""Render a ``Plan`` to a format-1 Standard MIDI File.

The same plan always gives byte-identical MIDI: every random choice is drawn from
``random.Random(plan.seed)`` in a fixed order. Channel events are encoded here directly
(constructing one ``mido.Message`` per event costs ~5 µs, most of the time budget);
the conductor track's meta events are built with mido, whose key-name table is the
authority on key signatures.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, repeat
from operator import and_, rshift, sub
from typing import NamedTuple

import mido

from kmidi.genres import beat_groups, drum_pattern
from kmidi.plan import ChordSlot, Plan
from kmidi.theory import Chord, parse_chord_symbol, voice_lead

PPQ = 480
"""Ticks per quarter note."""
CHANNELS: dict[str, int] = {"harmony": 0, "bass": 1, "melody": 2, "pad": 3, "drums": 9}
_CRASH, _KICK = 49, 36
_DRUM_ACCENT = {"X": 1.0, "x": 0.82, "o": 0.45}
_MIN_TICKS = 24
_TRI = 6**0.5
# Dynamics 0..1 map onto velocities 24..124: below ~24 GM synths are all but inaudible.
VELOCITY_FLOOR = 24.0
VELOCITY_SPAN = 100.0


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

    ``notes`` is built on first use from the settled events the file was written from:
    the generation worker only ships the bytes, and building ~1,500 ``Note`` tuples costs
    as much as writing the file.
    """

    midi: bytes
    duration_seconds: float
    _tracks: tuple[tuple[str, list[int], list[int]], ...] = field(repr=False, compare=False)
    """(track name, packed note-ons, packed note-offs) per track, as ``_settle`` gives them."""
    _sec_per_tick: float = field(repr=False, compare=False)
    _seconds_at: Callable[[int], float] | None = field(repr=False, compare=False)
    """Tick → seconds under a changing tempo map; None when one tempo holds throughout."""
    _note_list: list[Note] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def notes(self) -> list[Note]:
        """Every note written, track by track, in generation order."""
        if self._note_list is None:
            notes: list[Note] = []
            for name, ons, offs in self._tracks:
                notes += _notes(name, ons, offs, self._sec_per_tick, self._seconds_at)
            object.__setattr__(self, "_note_list", notes)  # a cache; the piece stays frozen
            return notes
        return self._note_list


# ---------------------------------------------------------------- helpers

Raw = tuple[int, int, int, int]
"""A note as the generators emit it: (start_tick, end_tick, pitch, velocity), unchecked."""


def _settle(raw: list[Raw], end_tick: int) -> tuple[list[int], list[int]]:
    """One track's kept notes as packed note-on and note-off events, in generation order.

    Notes are clipped to the piece, too-short ones and out-of-range pitches dropped, and a
    re-struck pitch ends the previous one (MIDI cannot hold two of the same note). The
    generators only append tuples; every rule lives in this one loop, with everything in
    locals, because a per-note method call costs more than the work itself.

    Events are ints packed (tick, on?, pitch, velocity) so a plain int sort orders them:
    offs before ons at the same tick, so a re-struck pitch is released first. The i-th on
    and the i-th off are the same note.
    """
    ons: list[int] = []
    offs: list[int] = []
    on_push, off_push = ons.append, offs.append
    # Per pitch (lists: cheaper than dicts), its latest note's index and end tick.
    latest = [-1] * 128
    busy_until = [-1] * 128
    half = _MIN_TICKS // 2
    count = 0
    for start, end, pitch, velocity in raw:
        if start < 0:
            start = 0
        if end > end_tick:
            end = end_tick
        if end - start < half or not 0 <= pitch <= 127:
            continue
        key = pitch << 7
        if busy_until[pitch] > start:
            j = latest[pitch]
            if start - (ons[j] >> 15) < half:
                continue
            offs[j] = (start << 15) | key  # rare: the earlier note now ends here
        if velocity < 1:
            velocity = 1
        elif velocity > 127:
            velocity = 127
        latest[pitch] = count
        busy_until[pitch] = end
        count += 1
        on_push((start << 15) | 0x4000 | key | velocity)
        off_push((end << 15) | key)
    return ons, offs


def _notes(
    name: str,
    ons: list[int],
    offs: list[int],
    sec_per_tick: float,
    seconds_at: Callable[[int], float] | None,
) -> list[Note]:
    """The ``Note`` of each settled note, unpacked from its events."""
    channel = CHANNELS[name]
    notes: list[Note] = []
    push = notes.append
    make = tuple.__new__  # Note(...) goes through a Python-level __new__; this does not
    for on, off in zip(ons, offs, strict=True):
        start = on >> 15
        secs = start * sec_per_tick if seconds_at is None else seconds_at(start)
        pitch, velocity = (on >> 7) & 0x7F, on & 0x7F
        push(
            make(
                Note,
                (name, channel, pitch, velocity, start / PPQ, ((off >> 15) - start) / PPQ, secs),
            )
        )
    return notes


def _vlq_bytes(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def _vlq(value: int, out: bytearray) -> None:
    out += _vlq_bytes(value)


class _VlqTable(dict[int, bytes]):
    """Delta time → its variable-length encoding, filled on first use."""

    def __missing__(self, value: int) -> bytes:
        encoded = _vlq_bytes(value)
        if value < 0x4000:  # long rests are rare: keep the table small
            self[value] = encoded
        return encoded


class _MessageTable(dict[int, bytes]):
    """Event key (on flag, pitch, velocity: the low 15 bits) → the 3 message bytes."""

    def __init__(self, channel: int) -> None:
        super().__init__()
        self.on = 0x90 | channel
        self.off = 0x80 | channel

    def __missing__(self, key: int) -> bytes:
        pitch = (key >> 7) & 0x7F
        if key & 0x4000:
            encoded = bytes((self.on, pitch, key & 0x7F))
        else:
            encoded = bytes((self.off, pitch, 0x40))
        self[key] = encoded
        return encoded


# Both tables are bounded (deltas seen, 2**15 keys per channel) and shared across renders,
# so after the first piece encoding an event is two dict lookups done inside map().
_VLQ = _VlqTable()
_MESSAGES = [_MessageTable(channel) for channel in range(16)]


@lru_cache(maxsize=256)
def _meta_bytes(kind: str, **fields: str | int) -> bytes:
    """One meta event as mido encodes it; cached, as pieces reuse a few dozen of them."""
    return bytes(mido.MetaMessage(kind, **fields).bytes())


def _track_chunk(
    name: str, channel: int, program: int | None, events: list[int], end_tick: int
) -> bytes:
    """The MTrk chunk of one track from its sorted packed events (see ``_settle``)."""
    body = bytearray(b"\x00")
    body += _meta_bytes("track_name", name=name)
    if program is not None:
        body += bytes((0x00, 0xC0 | channel, program))
    # Every event is written as delta VLQ + status + pitch + velocity (no running status).
    # The deltas and messages come from lookup tables through map(), so the per-event work
    # runs in C rather than in a Python loop.
    ticks = list(map(rshift, events, repeat(15)))
    pieces: list[bytes] = [b""] * (2 * len(events))
    pieces[0::2] = map(_VLQ.__getitem__, map(sub, ticks, [0, *ticks]))  # tick - previous
    pieces[1::2] = map(_MESSAGES[channel].__getitem__, map(and_, events, repeat(0x7FFF)))
    body += b"".join(pieces)
    body += _VLQ[end_tick - (ticks[-1] if ticks else 0)]
    body += b"\xff\x2f\x00"
    return b"MTrk" + len(body).to_bytes(4, "big") + bytes(body)


def _conductor_chunk(plan: Plan, end_tick: int, bar_ticks: int, tempi: list[int]) -> bytes:
    num, den = plan.meter
    body = bytearray(b"\x00")
    body += _meta_bytes("track_name", name=f"kmidi {plan.emotion.preset}")
    body.append(0)
    # Clocks per click: one click per felt beat (a dotted quarter in compound meters).
    clocks = 36 if den == 8 and num % 3 == 0 else 24 * 4 // den
    body += _meta_bytes("time_signature", numerator=num, denominator=den, clocks_per_click=clocks)
    body.append(0)
    body += _meta_bytes("key_signature", key=plan.key_signature)
    now = 0
    previous = -1
    for bar, tempo in enumerate(tempi):
        if tempo == previous:
            continue
        tick = bar * bar_ticks
        _vlq(tick - now, body)
        now = tick
        body += b"\xff\x51\x03" + tempo.to_bytes(3, "big")
        previous = tempo
    _vlq(end_tick - now, body)
    body += b"\xff\x2f\x00"
    return b"MTrk" + len(body).to_bytes(4, "big") + bytes(body)


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


# ---------------------------------------------------------------- rendering


def render_midi(plan: Plan) -> RenderedPiece:
    """Render ``plan`` to MIDI bytes plus the list of notes written."""
    rng = random.Random(plan.seed)
    key = plan.key
    num, den = plan.meter
    bpb = plan.beats_per_bar
    bar_ticks = round(bpb * PPQ)
    end_tick = bar_ticks * plan.length_bars
    total_beats = end_tick / PPQ
    tempi = plan.bar_tempi_us()
    groove = plan.groove
    swing = groove.swing
    jitter = groove.humanize_timing
    vel_sd = groove.humanize_velocity * 127
    feel = groove.feel_offset
    rand = rng.random
    # Jitter is triangular, rand() - rand() (sd 1/sqrt(6)): a Gaussian draw costs 5x more.
    kj = jitter * _TRI
    kv = vel_sd * _TRI
    inst = plan.instrumentation
    regs = plan.registers

    # Felt-beat starts within a bar, in quarter beats (7/8 → 0, 1, 2).
    beat_starts: list[float] = []
    acc = 0
    for g in beat_groups(num, den):
        beat_starts.append(acc / 4)
        acc += g

    section_of_bar: list[float] = [0.5] * plan.length_bars
    section_name: list[str] = ["theme"] * plan.length_bars
    section_start: set[int] = set()
    for s in plan.sections:
        section_start.add(s.start_bar)
        for b in range(s.start_bar, min(s.end_bar, plan.length_bars)):
            section_of_bar[b] = s.energy
            section_name[b] = s.name
    dynamics = plan.dynamics

    def swung(pos: float) -> float:
        frac = pos - math.floor(pos)
        if frac == 0.5:
            return pos + swing
        if frac in (0.25, 0.75):
            return pos + swing * 0.5
        return pos

    # Every onset sits on a sixteenth of the bar: look the swung position up.
    swing_table = {k / 4: swung(k / 4) for k in range(int(bpb * 4) + 1)}
    sw = swing_table.get

    def level(bar: int, scale: float) -> float:
        return (VELOCITY_FLOOR + dynamics[bar] * VELOCITY_SPAN) * scale

    # Chords and voicings.
    cache: dict[str, Chord] = {}
    chords: list[Chord] = []
    for slot in plan.progression:
        chord = cache.get(slot.symbol)
        if chord is None:
            chord = cache[slot.symbol] = parse_chord_symbol(slot.symbol)
        chords.append(chord)
    rhythmic = inst.comping in ("eighths", "pulse", "stabs", "offbeat", "strum")
    voicings = voice_lead(
        chords,
        regs.harmony_low,
        regs.harmony_high,
        voices=3 if rhythmic else 4,
        centre=(regs.harmony_low + regs.harmony_high) // 2,
    )
    slots: list[ChordSlot] = list(plan.progression)
    # Chord index sounding at each (bar, beat) — bars hold at most a few slots.
    bar_slots: list[list[int]] = [[] for _ in range(plan.length_bars)]
    for i, slot in enumerate(slots):
        span = max(1, math.ceil((slot.beat + slot.beats) / bpb - 1e-9))
        for b in range(slot.bar, min(plan.length_bars, slot.bar + span)):
            bar_slots[b].append(i)

    def chord_at(bar: int, beat: float) -> int:
        pos = bar * bpb + beat
        found = bar_slots[bar][0] if bar_slots[bar] else 0
        for i in bar_slots[bar]:
            s = slots[i]
            if s.bar * bpb + s.beat <= pos + 1e-9:
                found = i
        return found

    # Raw notes per track, checked by _settle once everything is generated.
    harmony: list[Raw] = []
    bass: list[Raw] = []
    melody: list[Raw] = []
    pad: list[Raw] = []
    drums: list[Raw] = []
    harmony_add, bass_add, pad_add, drums_add = (
        harmony.append,
        bass.append,
        pad.append,
        drums.append,
    )

    # ---- harmony (comping) and pad
    eighths = [x / 2 for x in range(int(bpb * 2))]
    stab_grid = [p for p in (0.0, 0.75, 1.5, 2.5, 2.75, 3.5, 4.0, 4.75, 5.5) if p < bpb]
    strum_grid = sorted({*beat_starts, *[b + 0.5 for b in beat_starts[1:]]})
    legato = plan.legato
    # Where each comping style strikes within a bar: (beat, length, accent).
    charleston = [(0.0, 0.9, 1.0), (1.5, 0.45, 0.85)] if bpb >= 3 else [(0.0, 0.9, 1.0)]
    if bpb >= 4:
        charleston += [(x + 2.0, d, a) for x, d, a in charleston if x + 2.0 < bpb]
    comp_styles: dict[str, list[tuple[float, float, float]]] = {
        "pulse": [(x, 0.9 * (0.5 + 0.5 * legato), 1.0) for x in beat_starts],
        "eighths": [(x, 0.42, 1.0 if x in beat_starts else 0.8) for x in eighths],
        "offbeat": [(x, 0.35, 0.9) for x in eighths if x not in beat_starts],
        "stabs": [(x, 0.2, 1.0 if x % 1 == 0 else 0.8) for x in stab_grid],
        "charleston": charleston,
        "strum": [(x, 0.45, 1.0 if x in beat_starts else 0.75) for x in strum_grid],
    }
    # The piece's style's onsets as (beat, swung beat, hold, accent): the swing lookup and
    # the minimum hold are worked out once, not per bar.
    comp_onsets = {
        style: [(x, sw(x, x), max(dur, 0.1), accent) for x, dur, accent in onsets]
        for style, onsets in comp_styles.items()
        if style == inst.comping
    }
    for i, slot in enumerate(slots):
        voicing = voicings[i]
        slot_start = slot.bar * bpb + slot.beat
        slot_end = min(total_beats, slot_start + slot.beats)
        bar = slot.bar
        energy = section_of_bar[bar]
        style = inst.comping if energy >= 0.25 else "sustain"
        if inst.pad_program is not None:
            pad_vel = level(bar, 0.55)
            pad_on, pad_off = round((slot_start + feel) * PPQ), round(slot_end * PPQ)
            for p in voicing[1:]:
                pad_add((pad_on, pad_off, p + 12, round(pad_vel + (rand() - rand()) * kv * 0.5)))
        b = bar
        while b * bpb < slot_end - 1e-9 and b < plan.length_bars:
            bar_start = b * bpb
            lo = max(slot_start, bar_start) - bar_start
            hi = min(slot_end, bar_start + bpb) - bar_start
            base_vel = level(b, 0.78)
            if style == "sustain":
                onsets: list[tuple[float, float, float, float]] = [
                    (lo, sw(lo, lo), max(hi - lo, 0.1), 1.0)
                ]
            elif style in comp_onsets:
                onsets = comp_onsets[style]
            else:  # arpeggio, ostinato: broken chords
                step = 0.5 if plan.note_density >= 0.3 or style == "ostinato" else 1.0
                # Every voice (the root included) must sound in each bar, even short ones.
                while step > 0.25 and (hi - lo) / step < len(voicing):
                    step /= 2
                if style == "ostinato":
                    order = [0, 2, 1, 3] if len(voicing) >= 4 else [0, 2, 1, 2]
                else:
                    order = list(range(len(voicing))) + list(range(len(voicing) - 2, 0, -1))
                x = 0.0
                k = 0
                while x < bpb - 1e-9:
                    if lo - 1e-9 <= x < hi - 1e-9:
                        p = voicing[order[k % len(order)] % len(voicing)]
                        hold = step * (0.45 if style == "ostinato" else 1.6 + 1.2 * legato)
                        on = bar_start + sw(x, x) + feel + (rand() - rand()) * kj
                        v = base_vel * (1.0 if x in beat_starts else 0.82)
                        harmony_add(
                            (
                                round(on * PPQ),
                                round(min(on + hold, bar_start + hi) * PPQ),
                                p,
                                round(v + (rand() - rand()) * kv),
                            )
                        )
                        k += 1
                    x += step
                b += 1
                continue
            lo_edge, hi_edge, bar_end = lo - 1e-9, hi - 1e-9, bar_start + hi
            strum = style == "strum"
            for x, swung_x, hold, accent in onsets:
                if not lo_edge <= x < hi_edge:
                    continue
                on = bar_start + swung_x + feel + (rand() - rand()) * kj
                off = on + hold
                if off > bar_end:
                    off = bar_end
                v = round(base_vel * accent + (rand() - rand()) * kv)
                off_tick = round(off * PPQ)
                if strum:
                    for n, p in enumerate(voicing):
                        harmony_add((round((on + n * 0.012) * PPQ), off_tick, p, v))
                else:
                    # Unspread voices share one onset: round it once, not once per voice.
                    on_tick = round(on * PPQ)
                    for p in voicing:
                        harmony_add((on_tick, off_tick, p, v))
            b += 1

    # ---- bass
    bass_centre = (regs.bass_low + regs.bass_high) // 2
    half_feel = feel * 0.5
    eighth_accents = [(x, 1.0 if x in beat_starts else 0.8) for x in eighths]
    scale = key.scale
    for i, slot in enumerate(slots):
        chord = chords[i]
        root = _place((chord.bass_pc,), bass_centre, regs.bass_low, regs.bass_high)
        if section_name[slot.bar] in ("intro", "release") and chord.bass is None:
            # A tonic pedal in the quiet outer sections: the key is felt before it is heard.
            root = _place((key.tonic_pc,), bass_centre, regs.bass_low, regs.bass_high)
        fifth = root + 7 if root + 7 <= regs.bass_high else root - 5
        slot_start = slot.bar * bpb + slot.beat
        slot_end = min(total_beats, slot_start + slot.beats)
        next_root_pc = chords[(i + 1) % len(chords)].bass_pc
        b = slot.bar
        style = inst.bass_style
        while b * bpb < slot_end - 1e-9 and b < plan.length_bars:
            bar_start = b * bpb
            lo = max(slot_start, bar_start) - bar_start
            hi = min(slot_end, bar_start + bpb) - bar_start
            v0 = level(b, 0.9)
            last_bar_of_slot = bar_start + bpb >= slot_end - 1e-9
            if section_of_bar[b] < 0.2 and style not in ("pedal", "root"):
                style_now = "root"
            else:
                style_now = style
            notes: list[tuple[float, float, int, float]]
            if style_now == "pedal":
                # One note held across the whole chord, however many bars it lasts.
                notes = [(lo, slot_end - slot_start - 0.05, root, 1.0)] if b == slot.bar else []
            elif style_now == "root":
                notes = [(lo, (hi - lo) * (0.8 + 0.19 * legato), root, 1.0)]
            elif style_now == "root_fifth":
                mid = beat_starts[len(beat_starts) // 2] if len(beat_starts) > 1 else bpb
                notes = [(0.0, mid * 0.9, root, 1.0), (mid, (bpb - mid) * 0.9, fifth, 0.85)]
            elif style_now == "walking":
                notes = []
                tones = list(chord.pitch_classes)
                cur = root
                for j, x in enumerate(beat_starts):
                    if j == 0:
                        p = root
                    elif j == len(beat_starts) - 1 and last_bar_of_slot:
                        target = _place((next_root_pc,), cur, regs.bass_low, regs.bass_high)
                        p = target + (1 if rand() < 0.5 else -1)
                    else:
                        pcs = tuple(tones) if rand() < 0.6 else scale
                        p = _place(
                            pcs, cur + (2 if rand() < 0.55 else -2), regs.bass_low, regs.bass_high
                        )
                        if p == cur:
                            p = _place(scale, cur + 2, regs.bass_low, regs.bass_high)
                    nxt = beat_starts[j + 1] if j + 1 < len(beat_starts) else bpb
                    notes.append((x, (nxt - x) * 0.88, p, 1.0 if j == 0 else 0.85))
                    cur = p
            elif style_now == "eighths":
                notes = [(x, 0.42, root, accent) for x, accent in eighth_accents]
            elif style_now == "octave_pulse":
                notes = [
                    (x, 0.3, root + (12 if x % 1 else 0), 0.9 if x % 1 else 1.0) for x in eighths
                ]
            else:  # syncopated
                funk = ((0.0, 0), (0.75, 0), (1.5, 12), (2.0, 7), (2.75, 0), (3.5, 12))
                notes = [
                    (
                        x,
                        0.22 if iv else 0.4,
                        root + iv if root + iv <= regs.bass_high + 12 else root,
                        1.0 if iv == 0 else 0.8,
                    )
                    for x, iv in funk
                    if x < bpb
                ]
            lo_edge, hi_edge = lo - 1e-9, hi - 1e-9
            limit = bar_start + hi if style_now != "pedal" else slot_end
            for x, dur, p, accent in notes:
                if not lo_edge <= x < hi_edge:
                    continue
                on = bar_start + sw(x, x) + half_feel + (rand() - rand()) * kj * 0.7
                off = on + dur
                if off > limit:
                    off = limit
                bass_add(
                    (
                        round(on * PPQ),
                        round(off * PPQ),
                        p,
                        round(v0 * accent + (rand() - rand()) * kv),
                    )
                )
            b += 1

    # ---- melody
    _melody(
        plan,
        melody,
        rng,
        chords,
        slots,
        chord_at,
        bar_slots,
        beat_starts,
        section_of_bar,
        section_name,
        sw,
        total_beats,
    )

    # ---- drums
    if inst.drums and inst.drum_style is not None:
        pattern = drum_pattern(inst.drum_style, num, den)
        steps = pattern.steps
        step_beats = bpb / steps
        rows = [
            (
                [
                    (sw(k * step_beats, k * step_beats), _DRUM_ACCENT[ch])
                    for k, ch in enumerate(row)
                    if ch != "."
                ],
                note,
            )
            for row, note in (
                (pattern.kick, _KICK),
                (pattern.snare, pattern.snare_note),
                (pattern.hat, pattern.hat_note),
            )
        ]
        for b in range(plan.length_bars):
            energy = section_of_bar[b]
            name = section_name[b]
            bar_start = b * bpb
            lvl = level(b, 0.95)
            sparse = (name == "intro" and plan.length_bars >= 8) or energy < 0.2
            if b in section_start and name in ("climax", "build") and b > 0:
                drums_add(
                    (round(bar_start * PPQ), round((bar_start + 1.5) * PPQ), _CRASH, round(lvl))
                )
            for hits, note in rows:
                if sparse and note != pattern.hat_note:
                    continue
                quiet = 0.7 if sparse else 1.0
                for swung_x, accent in hits:
                    on = bar_start + swung_x + (rand() - rand()) * kj * 0.5
                    v = lvl * accent * quiet + (rand() - rand()) * kv * 0.6
                    drums_add((round(on * PPQ), round((on + 0.2) * PPQ), note, round(v)))
        last = plan.length_bars - 1
        if plan.length_bars >= 4:
            drums_add(
                (
                    round((last * bpb) * PPQ),
                    round((last * bpb + 1.5) * PPQ),
                    _CRASH,
                    round(level(last, 0.9)),
                )
            )

    # ---- assemble
    tracks: list[tuple[str, list[Raw], int | None]] = [
        ("harmony", harmony, inst.harmony_program),
        ("bass", bass, inst.bass_program),
        ("melody", melody, inst.melody_program),
    ]
    if inst.pad_program is not None:
        tracks.append(("pad", pad, inst.pad_program))
    if inst.drums:
        tracks.append(("drums", drums, None))
    # Seconds at each bar line under the (possibly drifting) tempo map.
    bar_secs = [0.0]
    for us in tempi:
        bar_secs.append(bar_secs[-1] + us * bpb / 1_000_000)
    sec_per_tick = tempi[0] / 1_000_000 / PPQ

    def seconds_at(tick: int) -> float:
        bi = tick // bar_ticks
        return bar_secs[bi] + (tick - bi * bar_ticks) * tempi[bi] / 1_000_000 / PPQ

    uniform = len(set(tempi)) == 1
    chunks = [_conductor_chunk(plan, end_tick, bar_ticks, tempi)]
    settled: list[tuple[str, list[int], list[int]]] = []
    for name, raw, program in tracks:
        ons, offs = _settle(raw, end_tick)
        settled.append((name, ons, offs))
        events = ons + offs
        events.sort()
        chunks.append(_track_chunk(name, CHANNELS[name], program, events, end_tick))
    header = b"MThd" + (6).to_bytes(4, "big") + bytes((0, 1)) + len(chunks).to_bytes(2, "big")
    header += PPQ.to_bytes(2, "big")
    midi = header + b"".join(chunks)
    return RenderedPiece(
        midi=midi,
        duration_seconds=bar_secs[-1],
        _tracks=tuple(settled),
        _sec_per_tick=sec_per_tick,
        _seconds_at=None if uniform else seconds_at,
    )


def _melody(
    plan: Plan,
    part: list[Raw],
    rng: random.Random,
    chords: list[Chord],
    slots: list[ChordSlot],
    chord_at: Callable[[int, float], int],
    bar_slots: list[list[int]],
    beat_starts: list[float],
    energy_of_bar: list[float],
    name_of_bar: list[str],
    sw: Callable[[float, float], float],
    total_beats: float,
) -> None:
    """A melody that follows the chords: chord tones on strong beats, steps between."""
    key = plan.key
    regs = plan.registers
    bpb = plan.beats_per_bar
    low, high, centre = regs.melody_low, regs.melody_high, regs.melody_centre
    scale_pcs = set(key.scale)
    scale_notes = [p for p in range(low, high + 1) if p % 12 in scale_pcs]
    if len(scale_notes) < 3:
        return
    index_of = {p: i for i, p in enumerate(scale_notes)}
    groove = plan.groove
    rand = rng.random
    add = part.append
    kj, kv = groove.humanize_timing * _TRI, groove.humanize_velocity * 127 * _TRI
    feel, disp = groove.feel_offset, groove.displacement
    gate = 0.35 + 0.63 * plan.legato
    density = plan.note_density
    # Preferred note length: ~3 beats when sparse, a sixteenth-triplet-ish third when busy.
    pref = 2 ** (1.6 - 3.2 * density)
    lengths = [x for x in (4.0, 3.0, 2.0, 1.5, 1.0, 0.5, 0.25) if x <= bpb]
    weights = [math.exp(-((math.log2(x) - math.log2(pref)) ** 2) / 0.9) for x in lengths]
    strong = set(beat_starts)

    # ``lengths`` runs long to short, so every option set below is a tail of it: the notes
    # that fit the room left, narrowed (unless none are left) to the short ones off the beat.
    count = len(lengths)
    short_from = next((i for i, x in enumerate(lengths) if x <= 1.0), count)
    # rng.choices(lengths[i:], weights=weights[i:]) without its per-call set-up: each tail's
    # running sums are worked out once, then the same single draw and bisect pick the same.
    tail_sums = [list(accumulate(weights[i:])) for i in range(count)]

    def bar_rhythm() -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        pos = 0.0
        while pos < bpb - 1e-9:
            room = bpb - pos
            first = 0
            while first < count and lengths[first] > room + 1e-9:
                first += 1
            if first == count:
                break
            # Long notes start on felt beats; off-beat starts take short values.
            if pos not in strong and short_from < count:
                first = max(first, short_from)
            sums = tail_sums[first]
            x = lengths[first + bisect(sums, rand() * (sums[-1] + 0.0), 0, len(sums) - 1)]
            out.append((pos, x))
            pos += x
        return out

    bars = plan.length_bars
    motifs: dict[str, tuple[list[tuple[float, float]], list[tuple[float, float]]]] = {}
    for s in plan.sections:
        motifs[s.name] = (bar_rhythm(), bar_rhythm())
    phrase = 4 if bars >= 8 else max(1, bars)
    avoid_tonic = plan.has_rule_break("avoid_tonic_resolution")
    hanging = plan.has_rule_break("unresolved_dissonance")
    span = high - low
    prev = _place((key.tonic_pc,), centre, low, high)
    tonic_pcs = (key.tonic_pc,)
    tonic_triad = {key.scale[0], key.scale[2]}
    melody_scale = 1.0
    top = len(scale_notes) - 1
    # Chord.pitch_classes is computed on every access; progressions reuse few chords.
    pcs_of: dict[int, tuple[int, ...]] = {}
    for b in range(bars):
        name = name_of_bar[b]
        energy = energy_of_bar[b]
        a, bb = motifs.get(name, motifs[next(iter(motifs))])
        pos_in_phrase = b % phrase
        rhythm = bb if pos_in_phrase == 2 else a
        t = (pos_in_phrase + 0.5) / phrase
        # Arch contour per phrase, lifted by the section's energy.
        target = centre + span * (0.28 * math.sin(math.pi * t) + 0.35 * (energy - 0.5))
        phrase_end = pos_in_phrase == phrase - 1 or b == bars - 1
        rest_p = plan.space * (1.35 - 0.7 * energy)
        bar_start = b * bpb
        vbase = (VELOCITY_FLOOR + plan.dynamics[b] * VELOCITY_SPAN) * melody_scale
        last_bar = b == bars - 1
        last_n = len(rhythm) - 1
        slot_ids = bar_slots[b]
        for n, (x, length) in enumerate(rhythm):
            is_last = n == last_n
            if phrase_end and is_last:
                # Breathe at the phrase end: the last note holds or is left out.
                if not last_bar and rand() < 0.5:
                    continue
            elif n > 0 and rand() < rest_p:
                continue
            # A bar holding one chord needs no search (chord_at would return that slot too).
            ci = slot_ids[0] if len(slot_ids) == 1 else chord_at(b, x)
            pcs = pcs_of.get(ci)
            if pcs is None:
                pcs = pcs_of[ci] = chords[ci].pitch_classes
            if last_bar and is_last:
                if hanging:
                    pitch = _place((key.scale[1],), prev, low, high)
                elif avoid_tonic:
                    pitch = _place((key.scale[2], key.scale[4]), prev, low, high)
                else:
                    pitch = _place(tonic_pcs, prev, low, high)
            elif phrase_end and is_last:
                # Phrase ends lean on the tonic triad when the chord allows: the mode speaks.
                home = tuple(pc for pc in pcs if pc in tonic_triad) or pcs
                pitch = _place(home, prev, low, high)
            elif x in strong or n == 0:
                aim = round(prev + (target - prev) * 0.5 + (rand() - rand()) * 3.67)
                pitch = _place(pcs, aim, low, high)
            else:
                i = index_of.get(prev)
                if i is None:
                    i = min(range(len(scale_notes)), key=lambda k: abs(scale_notes[k] - prev))
                pull = abs(target - prev) / 6
                if pull > 1.0:
                    pull = 1.0
                up = 0.5 + 0.4 * (1 if target > prev else -1) * pull
                step = 1 if rand() < 0.8 else 2
                i = i + step if rand() < up else i - step
                i = 0 if i < 0 else (top if i > top else i)
                pitch = scale_notes[i]
                # Borrowed chord tones (the raised seventh over V in minor) replace the
                # scale note a semitone away, so the line never rubs against its chord.
                for alt in (pitch + 1, pitch - 1):
                    if alt % 12 in pcs and alt % 12 not in scale_pcs and pitch % 12 not in pcs:
                        pitch = alt
                        break
            on = bar_start + sw(x, x) + feel + disp + (rand() - rand()) * kj
            dur = length * gate
            if phrase_end and is_last:
                dur = length * max(gate, 0.9)
            accent = 1.0 if x == 0 else (0.92 if x in strong else 0.84)
            vel = round(vbase * accent + 6 + (rand() - rand()) * kv)
            end = on + dur
            if end > total_beats:
                end = total_beats
            add((round(on * PPQ), round(end * PPQ), pitch, vel))
            prev = pitch
