"""Standard MIDI File writing: tracks' notes settled and encoded with numpy.

``settle`` applies the rules the renderer's notes must obey (clip to the piece, drop
too-short notes and impossible pitches, let a re-struck pitch end the previous one, clamp
velocities) and ``track_chunk`` encodes the kept notes; both work on whole columns, with a
Python loop only for the rare pitch where a re-strike comes too soon and must be dropped.

Events are ordered as packed ints ``(tick << 16) | (kind << 14) | (data1 << 7) | data2``
sorted ascending: by tick, then note-offs (kind 0) before controller changes (kind 1)
before note-ons (kind 2) at the same tick (a re-struck pitch is released first, and a
controller set at a note's tick already applies to it), then pitch or controller number,
then velocity or value. Ticks must stay below ``2**46``.

``conductor_chunk`` writes the tempo map, time and key signature, and ``midi_file`` puts
the chunks together as a format-1 file.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import mido
import numpy as np
from numpy.typing import NDArray

Ticks = NDArray[np.int64]

_HALF = 12
"""Notes shorter than this many ticks (a fortieth of a beat at 480 PPQ) are dropped."""
_TICK_LIMIT = 1 << 46
"""Ticks must stay below this: packed events keep 16 bits below the tick in an int64."""
_SHIFT = 16
_OFF, _CONTROL, _ON = 0, 1 << 14, 2 << 14

_LEAD_BYTE = np.array([0xFF, *range(0x81, 0xFF)], dtype=np.uint8)
"""Delta >> 7 → the leading byte of its 2-byte VLQ, for deltas below 0x3F80; 0xFF for none."""


class Controls(NamedTuple):
    """Controller changes of one track (CC number and value 0..127 at a tick)."""

    tick: Ticks
    number: Ticks
    value: Ticks


class SettledTrack(NamedTuple):
    """One track's kept notes, in generation order (the i-th entries are one note)."""

    start: Ticks
    """Note-on tick."""
    end: Ticks
    """Note-off tick (after truncation by a re-struck pitch)."""
    pitch: Ticks
    velocity: Ticks
    """Clamped to 1..127."""


def settle(start: Ticks, end: Ticks, pitch: Ticks, velocity: Ticks, end_tick: int) -> SettledTrack:
    """One track's kept notes from its raw notes (columns, in generation order).

    Starts are clipped to >= 0 and ends to <= ``end_tick``; notes shorter than 12 ticks or
    with a pitch outside 0..127 are dropped. A note whose pitch is still sounding from that
    pitch's latest kept note is dropped if it starts less than 12 ticks after that note,
    and otherwise ends that note where it starts. Velocities are clamped to 1..127.
    """
    if not 0 <= end_tick < _TICK_LIMIT:
        raise ValueError(f"end_tick {end_tick} is outside 0..2**47")
    notes = _playable(start, end, pitch, velocity, end_tick)
    if len(notes.start) < 2:
        return notes
    return _restruck(notes)


def _playable(
    start: Ticks, end: Ticks, pitch: Ticks, velocity: Ticks, end_tick: int
) -> SettledTrack:
    """The notes clipped to the piece, too short ones and impossible pitches dropped, and
    velocities clamped; fresh arrays, sharing nothing with the arguments."""
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    pitch = np.asarray(pitch, dtype=np.int64)
    velocity = np.asarray(velocity, dtype=np.int64)
    # Both ends clipped to [0, end_tick]: a note clipped at the far side is too short either
    # way, so the kept notes are as with one-sided clipping, and the subtraction is safe.
    s = np.maximum(start, 0)  # np.clip costs twice as much
    np.minimum(s, end_tick, out=s)
    e = np.minimum(end, end_tick)
    np.maximum(e, 0, out=e)
    keep = (e - s >= _HALF) & (pitch.view(np.uint64) < 128)  # negatives wrap to huge
    if np.count_nonzero(keep) == len(keep):
        pitch = pitch.copy()  # s, e and velocity are fresh arrays already: share nothing
    else:
        index = np.flatnonzero(keep)
        s, e, pitch, velocity = s[index], e[index], pitch[index], velocity[index]
    velocity = np.minimum(np.maximum(velocity, 1), 127)
    return SettledTrack(s, e, pitch, velocity)


def _restruck(notes: SettledTrack) -> SettledTrack:
    """The notes with every re-struck pitch settled: a re-strike too soon dropped, a later
    one ending the note before it (in place: ``notes``' arrays are fresh)."""
    s, e, pitch, velocity = notes
    # Each note against the previous kept note of its pitch: in generation order within a
    # pitch (the sort is stable), overlapping when the earlier one is still sounding.
    order = np.argsort(pitch.astype(np.uint8), kind="stable")  # radix sort on bytes
    p, so, eo = pitch[order], s[order], e[order]
    clash = (eo[:-1] > so[1:]) & (p[:-1] == p[1:])
    if not np.count_nonzero(clash):
        return notes
    if not np.count_nonzero((so[1:] - so[:-1] < _HALF) & clash):
        # Every re-strike comes late enough: it only cuts the note before it short.
        at = np.flatnonzero(clash)
        e[order[at]] = so[at + 1]
        return notes
    # A re-strike too soon is dropped, and a dropped note no longer cuts anything short, so
    # every later note of its pitch depends on it: replay those pitches one note at a time.
    busy = np.unique(p[1:][clash])
    runs = zip(
        np.searchsorted(p, busy, side="left").tolist(),
        np.searchsorted(p, busy, side="right").tolist(),
        strict=True,
    )
    kept = np.ones(len(s), dtype=np.bool_)
    starts: list[int] = s.tolist()
    ends: list[int] = e.tolist()
    order_list: list[int] = order.tolist()
    for lo, hi in runs:
        _replay_pitch(order_list[lo:hi], starts, ends, kept)
    index = np.flatnonzero(kept)
    return SettledTrack(
        s[index], np.array(ends, dtype=np.int64)[index], pitch[index], velocity[index]
    )


def _replay_pitch(
    notes: list[int], starts: list[int], ends: list[int], kept: NDArray[np.bool_]
) -> None:
    """Settle one pitch's ``notes`` (indices, in generation order) one at a time: mark a
    re-strike too soon not ``kept``, and let a later one cut the ``ends`` of the note
    before it."""
    latest = latest_start = busy_until = -1
    for i in notes:
        note_start = starts[i]
        if busy_until > note_start:
            if note_start - latest_start < _HALF:
                kept[i] = False
                continue
            ends[latest] = note_start
        latest, latest_start, busy_until = i, note_start, ends[i]


def track_chunk(
    name: str,
    channel: int,
    program: int | None,
    notes: SettledTrack,
    end_tick: int,
    controls: Controls | None = None,
) -> bytes:
    """The MTrk chunk of one track: its name, its program if any, its controller changes
    and its settled notes.

    Every event is written as delta VLQ + status + two data bytes (no running status);
    a note-off has velocity 64.
    """
    head = b"\x00" + _meta_bytes("track_name", name=name)
    if program is not None:
        head += bytes((0x00, 0xC0 | channel, program))
    last = 0
    body = b""
    if len(notes.start) + (0 if controls is None else len(controls.tick)):
        events = _sorted_events(notes, controls)
        ticks = events >> _SHIFT
        last = int(ticks[-1])
        deltas = ticks.copy()
        deltas[1:] -= ticks[:-1]
        body = _event_bytes(events, deltas, channel)
    tail = _vlq_bytes(end_tick - last) + b"\xff\x2f\x00"
    size = len(head) + len(body) + len(tail)
    return b"MTrk" + size.to_bytes(4, "big") + head + body + tail


def _sorted_events(notes: SettledTrack, controls: Controls | None) -> Ticks:
    """Every note-on, note-off and controller change, packed (see the module docstring)
    and sorted."""
    count = len(notes.start)
    extra = 0 if controls is None else len(controls.tick)
    events = np.empty(2 * count + extra, dtype=np.int64)
    ons, offs = events[:count], events[count : 2 * count]
    np.left_shift(notes.start, _SHIFT, out=ons)
    np.left_shift(notes.end, _SHIFT, out=offs)
    keys = notes.pitch << 7
    offs |= keys
    keys |= notes.velocity
    keys |= _ON
    ons |= keys
    if controls is not None:
        events[2 * count :] = (
            (controls.tick << _SHIFT) | _CONTROL | (controls.number << 7) | controls.value
        )
    events.sort(kind="stable")  # timsort: nearly sorted runs, faster than quicksort
    return events


def _event_bytes(events: Ticks, deltas: Ticks, channel: int) -> bytes:
    """The sorted ``events`` on ``channel``, each after its delta (ticks since the one
    before) as a VLQ."""
    # Each event's last delta byte and its 3 message bytes, as one little-endian word.
    words = _message_words(channel).take(events & 0xFFFF)
    longest = int(deltas.max())
    if longest < 0x80:  # every delta fits in one byte (dense parts)
        words |= deltas
        return words.astype("<u4").tobytes()
    words |= deltas & 0x7F
    if longest < 0x3F80:  # one leading VLQ byte at most, and never 0xFF
        # Rows of a leading byte then the word; 0xFF marks a row without one, and as no
        # other byte written can be 0xFF (messages are < 0xA0), deleting it compacts.
        rows = np.empty(len(events), dtype=_row_type(1))
        rows["word"] = words
        rows["lead"][:, 0] = _LEAD_BYTE.take(deltas >> 7)
        return rows.tobytes().translate(None, b"\xff")
    return _with_leading_bytes(words, deltas, longest)


def _with_leading_bytes(words: Ticks, deltas: Ticks, longest: int) -> bytes:
    """Each event word after its delta's leading VLQ bytes, for any delta up to ``longest``."""
    # Rows of the delta's leading VLQ bytes (most significant first) then the word;
    # a mask cuts each row's unused leading columns out.
    lead = 1
    while longest >> (7 * (lead + 1)):
        lead += 1
    rows = np.empty(len(words), dtype=_row_type(lead))
    rows["word"] = words
    used = np.ones((len(words), lead + 4), dtype=np.bool_)
    leading = rows["lead"]
    for column in range(lead):
        shift = 7 * (lead - column)
        leading[:, column] = (deltas >> shift) | 0x80  # the cast keeps the low 8 bits
        used[:, column] = deltas >= 1 << shift
    return rows.view(np.uint8).reshape(len(words), lead + 4)[used].tobytes()


def conductor_chunk(
    name: str,
    meter: tuple[int, int],
    key_signature: str,
    tempi: list[int],
    bar_ticks: int,
    end_tick: int,
) -> bytes:
    """The first track: its name, the time and key signature, and a tempo (µs per quarter)
    per bar, written only where it changes."""
    num, den = meter
    # Clocks per click: one click per felt beat (a dotted quarter in compound meters).
    clocks = 36 if den == 8 and num % 3 == 0 else 24 * 4 // den
    body = b"".join(
        (
            b"\x00",
            _meta_bytes("track_name", name=name),
            b"\x00",
            _meta_bytes("time_signature", numerator=num, denominator=den, clocks_per_click=clocks),
            b"\x00",
            _meta_bytes("key_signature", key=key_signature),
        )
    )
    now = 0
    previous = -1
    for bar, tempo in enumerate(tempi):
        if tempo != previous:
            tick = bar * bar_ticks
            body += _vlq_bytes(tick - now) + b"\xff\x51\x03" + tempo.to_bytes(3, "big")
            now, previous = tick, tempo
    body += _vlq_bytes(end_tick - now) + b"\xff\x2f\x00"
    return b"MTrk" + len(body).to_bytes(4, "big") + body


def midi_file(chunks: list[bytes], ticks_per_quarter: int) -> bytes:
    """A format-1 Standard MIDI File of these track chunks."""
    header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big")
    header += len(chunks).to_bytes(2, "big") + ticks_per_quarter.to_bytes(2, "big")
    return header + b"".join(chunks)


def _vlq_bytes(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


@lru_cache(maxsize=16)
def _message_words(channel: int) -> Ticks:
    """Packed event bits (kind, data1, data2: the low 16) → that event's status and data
    bytes on ``channel`` in bytes 1..3 of a little-endian word; byte 0 is left for the
    delta's last VLQ byte."""
    low = np.arange(3 << 14, dtype=np.int64)
    kind = low >> 14
    data2 = np.where(kind == 0, 0x40, low & 0x7F)  # an off's velocity is 64
    status = np.choose(kind, (0x80, 0xB0, 0x90)) | channel
    words: Ticks = (status << 8) | (((low >> 7) & 0x7F) << 16) | (data2 << 24)
    words.setflags(write=False)  # shared by every call: take() copies out of it
    return words


@lru_cache(maxsize=16)
def _row_type(lead: int) -> np.dtype[np.void]:
    """A delta's ``lead`` leading VLQ bytes then its event word, packed."""
    return np.dtype([("lead", np.uint8, (lead,)), ("word", "<u4")])


@lru_cache(maxsize=256)
def _meta_bytes(kind: str, **fields: str | int) -> bytes:
    """One meta event as mido encodes it; cached, as pieces reuse a few dozen of them."""
    return bytes(mido.MetaMessage(kind, **fields).bytes())
