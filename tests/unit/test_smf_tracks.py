"""``kmidi.smf_tracks`` gives exactly what the pure-Python settle + sort + chunk loop gave.

The oracle below is a copy of ``kmidi.render``'s ``_settle``, ``_vlq_bytes`` and
``_track_chunk`` as they were before the numpy rewrite (the lookup tables dropped: they
only cache the same bytes), kept here so the renderer can change freely.
"""

from __future__ import annotations

import io

import mido
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmidi.smf_tracks import SettledTrack, Ticks, settle, track_chunk

Raw = tuple[int, int, int, int]
_MIN_TICKS = 24
NAMES = ("harmony", "bass", "melody", "pad", "drums", "")

# ---------------------------------------------------------------- oracle


def oracle_settle(raw: list[Raw], end_tick: int) -> tuple[list[int], list[int]]:
    ons: list[int] = []
    offs: list[int] = []
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
            offs[j] = (start << 15) | key
        if velocity < 1:
            velocity = 1
        elif velocity > 127:
            velocity = 127
        latest[pitch] = count
        busy_until[pitch] = end
        count += 1
        ons.append((start << 15) | 0x4000 | key | velocity)
        offs.append((end << 15) | key)
    return ons, offs


def oracle_vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def oracle_chunk(
    name: str, channel: int, program: int | None, events: list[int], end_tick: int
) -> bytes:
    body = bytearray(b"\x00")
    body += bytes(mido.MetaMessage("track_name", name=name).bytes())
    if program is not None:
        body += bytes((0x00, 0xC0 | channel, program))
    now = 0
    for event in events:
        tick = event >> 15
        body += oracle_vlq(tick - now)
        now = tick
        pitch = (event >> 7) & 0x7F
        if event & 0x4000:
            body += bytes((0x90 | channel, pitch, event & 0x7F))
        else:
            body += bytes((0x80 | channel, pitch, 0x40))
    body += oracle_vlq(end_tick - now)
    body += b"\xff\x2f\x00"
    return b"MTrk" + len(body).to_bytes(4, "big") + bytes(body)


def oracle(
    raw: list[Raw], end_tick: int, name: str = "melody", channel: int = 2, program: int | None = 0
) -> tuple[list[int], list[int], bytes]:
    ons, offs = oracle_settle(raw, end_tick)
    events = ons + offs
    events.sort()
    return ons, offs, oracle_chunk(name, channel, program, events, end_tick)


# ---------------------------------------------------------------- helpers


def columns(raw: list[Raw]) -> tuple[Ticks, Ticks, Ticks, Ticks]:
    table = np.array(raw, dtype=np.int64).reshape(-1, 4)
    return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy(), table[:, 3].copy()


def assert_same_notes(notes: SettledTrack, ons: list[int], offs: list[int]) -> None:
    for column in notes:
        assert column.dtype == np.int64
        assert column.shape == (len(ons),)
    assert notes.start.tolist() == [on >> 15 for on in ons]
    assert notes.end.tolist() == [off >> 15 for off in offs]
    assert notes.pitch.tolist() == [(on >> 7) & 0x7F for on in ons]
    assert notes.velocity.tolist() == [on & 0x7F for on in ons]


def check(
    raw: list[Raw], end_tick: int, name: str = "melody", channel: int = 2, program: int | None = 0
) -> SettledTrack:
    """settle and track_chunk agree with the oracle on ``raw``; the settled notes."""
    ons, offs, chunk = oracle(raw, end_tick, name, channel, program)
    notes = settle(*columns(raw), end_tick)
    assert_same_notes(notes, ons, offs)
    assert track_chunk(name, channel, program, notes, end_tick) == chunk
    return notes


# Gaps between successive starts: mostly short (and some negative, so generation order is
# not time order), sometimes rests long enough for 2-, 3-, 4- and 5-byte delta VLQs.
LONG_RESTS = (127, 128, 16_255, 16_256, 16_383, 16_384, 2**21 - 1, 2**21, 2**28 - 1, 2**28)
gaps = st.one_of(
    st.integers(min_value=-60, max_value=200),
    st.sampled_from((0, 11, 12, 13)),  # a re-strike on either side of the 12-tick limit
    st.sampled_from(LONG_RESTS),
    st.integers(min_value=200, max_value=2**29),
)
lengths = st.one_of(
    st.integers(min_value=-20, max_value=120),
    st.sampled_from((0, 11, 12, 13, 23, 24)),
    st.integers(min_value=120, max_value=2**22),
)
pitches = st.one_of(
    st.sampled_from((60, 61, 62)),  # a small set: many same-pitch overlaps
    st.sampled_from((-5, -1, 0, 127, 128, 140)),
    st.integers(min_value=-5, max_value=140),
)
velocities = st.integers(min_value=-10, max_value=200)


@st.composite
def tracks(draw: st.DrawFn) -> tuple[list[Raw], int]:
    """Raw notes in generation order and the piece's end tick."""
    start = end = draw(st.integers(min_value=-100, max_value=100))
    raw: list[Raw] = []
    for gap, after_end, length, pitch, velocity in draw(
        st.lists(st.tuples(gaps, st.booleans(), lengths, pitches, velocities), max_size=60)
    ):
        # The gap runs from the previous start, or from its end: a rest between the events.
        start = (end if after_end else start) + gap
        end = start + length
        raw.append((start, end, pitch, velocity))
    latest_end = max((end for _, end, _, _ in raw), default=0)
    end_tick = draw(
        st.one_of(
            st.integers(min_value=0, max_value=max(0, latest_end + 300)),
            st.just(max(0, latest_end)),
            st.integers(min_value=max(0, latest_end), max_value=max(0, latest_end) + 2**29),
        )
    )
    return raw, end_tick


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- properties


@SETTINGS
@given(
    track=tracks(),
    name=st.sampled_from(NAMES),
    channel=st.integers(min_value=0, max_value=15),
    program=st.one_of(st.none(), st.integers(min_value=0, max_value=127)),
)
def test_matches_the_pure_python_oracle(
    track: tuple[list[Raw], int], name: str, channel: int, program: int | None
) -> None:
    raw, end_tick = track
    check(raw, end_tick, name, channel, program)


@st.composite
def crowded(draw: st.DrawFn) -> list[Raw]:
    """Two pitches on a 6-tick grid in a short piece: re-strikes 0, 6, 12, 18 ticks apart."""
    notes = st.tuples(
        st.integers(min_value=-2, max_value=60),
        st.integers(min_value=-12, max_value=240),
        st.sampled_from((40, 41)),
        velocities,
    )
    return [(6 * k, 6 * k + length, p, v) for k, length, p, v in draw(st.lists(notes, max_size=40))]


@SETTINGS
@given(raw=crowded(), end_tick=st.integers(min_value=0, max_value=480))
def test_crowded_re_strikes_match_the_oracle(raw: list[Raw], end_tick: int) -> None:
    """Drops, truncations and re-strikes right at the 12-tick limit, in every combination."""
    check(raw, end_tick)


# ---------------------------------------------------------------- by hand


def test_empty_track() -> None:
    notes = check([], 960, "drums", 9, None)
    assert len(notes.start) == 0
    assert track_chunk("drums", 9, None, notes, 960) == (
        b"MTrk\x00\x00\x00\x0e" + b"\x00\xff\x03\x05drums" + b"\x87\x40\xff\x2f\x00"
    )


def test_every_note_dropped_leaves_an_empty_track() -> None:
    raw = [(0, 11, 60, 100), (10, 5, 60, 100), (0, 480, -1, 100), (0, 480, 128, 90)]
    assert len(check(raw, 480).start) == 0


def test_a_re_strike_too_soon_is_dropped() -> None:
    # The second C starts 11 ticks into the first: dropped, so it does not cut the first
    # short, and the third C (which overlaps the first) truncates the first instead.
    raw = [(0, 480, 60, 100), (11, 300, 60, 90), (240, 720, 60, 80), (0, 480, 64, 70)]
    notes = check(raw, 960)
    assert notes.start.tolist() == [0, 240, 0]
    assert notes.end.tolist() == [240, 720, 480]
    assert notes.pitch.tolist() == [60, 60, 64]


def test_a_late_re_strike_truncates_the_earlier_note() -> None:
    raw = [(0, 480, 60, 200), (12, 400, 60, -3), (100, 200, 62, 64)]
    notes = check(raw, 960)
    assert notes.end.tolist() == [12, 400, 200]
    assert notes.velocity.tolist() == [127, 1, 64]


def test_a_re_strike_exactly_12_ticks_later_is_kept() -> None:
    # The same pitch struck at 0, 11 (dropped: too soon), 12 (kept: ends the first) and 23
    # (dropped: 11 after the one at 12); then at 24 on another pitch, alone.
    raw = [(0, 480, 60, 100), (11, 480, 60, 100), (12, 480, 60, 100), (23, 480, 60, 100)]
    raw += [(24, 480, 61, 100)]
    notes = check(raw, 960)
    assert notes.start.tolist() == [0, 12, 24]
    assert notes.end.tolist() == [12, 480, 480]


@pytest.mark.parametrize("rest", LONG_RESTS)
def test_a_long_rest(rest: int) -> None:
    """Each VLQ size boundary, as the longest delta of its track (which picks the encoder)."""
    raw = [(0, 24, 60, 100), (24 + rest, 48 + rest, 61, 90)]
    notes = check(raw, 48 + rest + 7)
    chunk = track_chunk("melody", 2, 0, notes, 48 + rest + 7)
    assert oracle_vlq(rest) + bytes((0x92, 61, 90)) in chunk


def test_a_four_byte_delta() -> None:
    rest = 2**21 + 5  # the smallest 4-byte VLQ is 2**21
    raw = [(0, 24, 60, 100), (24 + rest, 48 + rest, 60, 100)]
    end_tick = 48 + rest + 2**14
    notes = check(raw, end_tick)
    chunk = track_chunk("melody", 2, None, notes, end_tick)
    assert bytes((0x81, 0x80, 0x80, 0x05, 0x92, 60, 100)) in chunk
    assert chunk.endswith(bytes((0x81, 0x80, 0x00, 0xFF, 0x2F, 0x00)))


def test_inputs_are_neither_changed_nor_shared() -> None:
    raw = [(-5, 480, 60, 100), (240, 720, 60, 90), (0, 480, 64, 70)]
    start, end, pitch, velocity = columns(raw)
    copies = [a.copy() for a in (start, end, pitch, velocity)]
    notes = settle(start, end, pitch, velocity, 600)
    for given_column, copy in zip((start, end, pitch, velocity), copies, strict=True):
        assert np.array_equal(given_column, copy)
        for column in notes:
            assert not np.shares_memory(column, given_column)


def test_a_negative_end_tick_is_refused() -> None:
    with pytest.raises(ValueError, match="end_tick"):
        settle(*columns([]), -1)


def test_mido_reads_the_chunk() -> None:
    raw = [(k * 120, k * 120 + 100, 36 + k % 24, 40 + k % 80) for k in range(50)]
    raw += [(10_000_000, 10_000_200, 60, 100)]  # after a long rest
    end_tick = 10_000_480
    notes = check(raw, end_tick, "bass", 1, 33)
    chunk = track_chunk("bass", 1, 33, notes, end_tick)
    header = b"MThd" + (6).to_bytes(4, "big") + bytes((0, 1, 0, 1)) + (480).to_bytes(2, "big")
    midi = mido.MidiFile(file=io.BytesIO(header + chunk))
    (track,) = midi.tracks
    assert track.name == "bass"
    assert [m.type for m in track].count("note_on") == len(notes.start) == 51
    assert [m.type for m in track].count("note_off") == 51
    assert [m.program for m in track if m.type == "program_change"] == [33]
    assert sum(m.time for m in track) == end_tick
