"""Independent music audit: compose the blind sentences and measure the MIDI bytes.

    .venv/bin/python bench/music_audit.py [--seeds 1,2,3] [--json out.json] [--audio --limit N]

Every figure is measured from the Standard MIDI File bytes with parsers that are not
kmidi's own (mido for events, pretty_midi for the pitch-class histogram, a
Krumhansl-Schmuckler key finder written here). The plan is read only for what was
*claimed*: tonic and mode, chord symbols and where they sit, length, meter, sections,
phrases, genre and rule breaks. docs/music_audit.md explains each figure.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import io
import itertools
import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mido
import numpy as np

from kmidi.compose import Composition, compose
from kmidi.errors import TechnicalWishError
from schemas.intent import Intent, TechnicalWishes

HERE = Path(__file__).resolve().parent
DEFAULT_SENTENCES = HERE / "music_audit_sentences.jsonl"
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")

ROLES_BY_CHANNEL = {0: "harmony", 1: "bass", 2: "melody", 3: "pad", 9: "drums"}
KICKS = frozenset({35, 36})
SNARES = frozenset({38, 40})
TOMS = frozenset({41, 43, 45, 47, 48, 50})
EXEMPT_ENDINGS = frozenset({"avoid_tonic_resolution", "unresolved_dissonance"})
MAJOR_LIKE = frozenset({"ionian", "lydian", "mixolydian"})
# Degree of each mode's tonic in its parent major scale (D dorian -> 2 above C).
MODE_DEGREE = {
    "ionian": 0,
    "major": 0,
    "dorian": 2,
    "phrygian": 4,
    "lydian": 5,
    "mixolydian": 7,
    "aeolian": 9,
    "minor": 9,
    "locrian": 11,
}
NOTE_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Krumhansl-Kessler key profiles (Krumhansl 1990), index 0 = tonic.
KK_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
KK_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
PC_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_CHORD = re.compile(r"^([A-G])([#b]?)([^/]*)(?:/([A-G][#b]?))?$")


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class Note:
    """One sounding note: absolute ticks, from note-on to its matching note-off."""

    role: str
    channel: int
    pitch: int
    start: int
    end: int
    velocity: int


@dataclass(slots=True)
class Midi:
    """What the audit needs from one Standard MIDI File, read with mido."""

    tpb: int
    numerator: int
    denominator: int
    time_signatures: int
    key_signature: str | None
    notes: dict[str, list[Note]]
    controls: dict[str, set[int]]
    programs: dict[str, int]

    @property
    def bar_ticks(self) -> int:
        return self.numerator * self.tpb * 4 // self.denominator

    @property
    def compound(self) -> bool:
        return self.denominator == 8 and self.numerator in (6, 9, 12)

    @property
    def beat_ticks(self) -> int:
        """The felt beat: a dotted quarter in compound meters, else a quarter (half in x/2)."""
        if self.compound:
            return self.tpb * 3 // 2
        return self.tpb * 2 if self.denominator == 2 else self.tpb

    def pitched(self) -> list[Note]:
        return [n for role, ns in self.notes.items() if role != "drums" for n in ns]

    def melody_line(self) -> list[int]:
        """The melody's pitches in time order (the highest first where two start together)."""
        melody = self.notes.get("melody", [])
        return [n.pitch for n in sorted(melody, key=lambda n: (n.start, -n.pitch))]


@dataclass(slots=True)
class FileMeta:
    """The file-wide meta events: the first time signature (and how many there are) and
    the first key signature, whichever track carries them."""

    numerator: int = 4
    denominator: int = 4
    time_signatures: int = 0
    key_signature: str | None = None

    def read(self, msg: Any) -> None:
        """Take in one time_signature or key_signature message."""
        if msg.type == "time_signature":
            self.time_signatures += 1
            if self.time_signatures == 1:
                self.numerator, self.denominator = int(msg.numerator), int(msg.denominator)
        elif self.key_signature is None:
            self.key_signature = str(msg.key)


@dataclass(slots=True)
class TrackEvents:
    """What one track holds: its name, finished notes (channel, pitch, start, end,
    velocity), CC numbers, last program and the channels it uses."""

    name: str | None = None
    found: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    ccs: set[int] = field(default_factory=set)
    program: int | None = None
    channels: set[int] = field(default_factory=set)

    def empty(self) -> bool:
        return not self.found and not self.ccs and self.program is None

    def role(self) -> str:
        """The track's name if it is a known role, else the role of its lowest channel."""
        if self.name in ROLES_BY_CHANNEL.values():
            return str(self.name)
        first = min(self.channels) if self.channels else -1
        return ROLES_BY_CHANNEL.get(first, self.name or f"track{first}")


def read_track(track: Iterable[Any], meta: FileMeta) -> TrackEvents:
    """One track's events in order; meter and key signature go to ``meta``."""
    events = TrackEvents()
    pending: dict[tuple[int, int], list[tuple[int, int]]] = {}
    tick = 0
    for msg in track:
        tick += int(msg.time)
        kind = str(msg.type)
        if kind == "track_name":
            events.name = str(msg.name) if events.name is None else events.name
        elif kind in ("time_signature", "key_signature"):
            meta.read(msg)
        elif kind in ("note_on", "note_off"):
            read_note(msg, tick, pending, events)
        elif kind == "control_change":
            events.channels.add(int(msg.channel))
            events.ccs.add(int(msg.control))
        elif kind == "program_change":
            events.channels.add(int(msg.channel))
            events.program = int(msg.program)
    return events


def read_note(
    msg: Any, tick: int, pending: dict[tuple[int, int], list[tuple[int, int]]], events: TrackEvents
) -> None:
    """A note-on opens a note; a note-off (or zero-velocity note-on) closes the oldest open
    one on its channel and pitch."""
    key = (int(msg.channel), int(msg.note))
    if msg.type == "note_on" and int(msg.velocity) > 0:
        events.channels.add(key[0])
        pending.setdefault(key, []).append((tick, int(msg.velocity)))
        return
    stack = pending.get(key)
    if stack:
        start, vel = stack.pop(0)
        events.found.append((*key, start, tick, vel))


def parse_midi(data: bytes) -> Midi:
    """Read notes, CCs, programs, meter and key signature from the bytes with mido."""
    mf = mido.MidiFile(file=io.BytesIO(data))
    meta = FileMeta()
    notes: dict[str, list[Note]] = {}
    controls: dict[str, set[int]] = {}
    programs: dict[str, int] = {}
    for track in mf.tracks:
        events = read_track(track, meta)
        if events.empty():
            continue
        role = events.role()
        notes.setdefault(role, []).extend(
            Note(role, ch, p, s, e, v)
            for ch, p, s, e, v in sorted(events.found, key=lambda x: x[2])
        )
        controls.setdefault(role, set()).update(events.ccs)
        if events.program is not None:
            programs[role] = events.program
    return Midi(
        tpb=int(mf.ticks_per_beat),
        numerator=meta.numerator,
        denominator=meta.denominator,
        time_signatures=meta.time_signatures,
        key_signature=meta.key_signature,
        notes=notes,
        controls=controls,
        programs=programs,
    )


def pretty_midi_view(data: bytes) -> tuple[list[float], int]:
    """pretty_midi's duration-weighted pitch-class histogram and its pitched-note count."""
    pretty_midi = importlib.import_module("pretty_midi")
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    hist = [float(x) for x in pm.get_pitch_class_histogram(use_duration=True)]
    count = sum(len(inst.notes) for inst in pm.instruments if not inst.is_drum)
    return hist, int(count)


# --------------------------------------------------------------------------- theory


def note_pc(name: str) -> int:
    """Pitch class of a note name such as "F#", "Bb", "Cb"."""
    pc = NOTE_PC[name[0].upper()]
    for accidental in name[1:]:
        pc += 1 if accidental == "#" else -1 if accidental == "b" else 0
    return pc % 12


def parse_chord(symbol: str) -> tuple[int, frozenset[int], int | None] | None:
    """(root PC, chord-tone PCs, slash-bass PC) of a chord symbol, or None if unreadable."""
    m = _CHORD.match(symbol.strip())
    if m is None:
        return None
    root = note_pc(m.group(1) + m.group(2))
    q = m.group(3)
    if q.startswith(("maj", "M")):
        ivs = {0, 4, 7, 11} if "7" in q or "9" in q else {0, 4, 7}
    elif q.startswith(("m7b5", "ø")):
        ivs = {0, 3, 6, 10}
    elif q.startswith("dim"):
        ivs = {0, 3, 6, 9} if "7" in q else {0, 3, 6}
    elif q.startswith(("aug", "+")):
        ivs = {0, 4, 8}
    elif q.startswith("sus2"):
        ivs = {0, 2, 7}
    elif q.startswith("sus"):
        ivs = {0, 5, 7}
    elif q == "5":
        ivs = {0, 7}
    elif q.startswith(("m", "-")):
        ivs = {0, 3, 7}
    else:
        ivs = {0, 4, 7}
    if not q.startswith(("maj", "M", "m7b5", "dim")):
        if "7" in q or q.endswith("9"):
            ivs.add(10)
        if "6" in q:
            ivs.add(9)
    if "9" in q or "add2" in q:
        ivs.add(2)
    slash = note_pc(m.group(4)) if m.group(4) else None
    return root, frozenset((root + i) % 12 for i in ivs), slash


def key_candidates(hist: Sequence[float]) -> list[tuple[float, int, str]]:
    """Krumhansl-Schmuckler: correlation of the histogram with all 24 rotated profiles."""
    h = np.asarray(hist, dtype=float)
    if not np.any(h):
        return []
    out: list[tuple[float, int, str]] = []
    for mode, profile in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        base = np.asarray(profile, dtype=float)
        for tonic in range(12):
            r = float(np.corrcoef(h, np.roll(base, tonic))[0, 1])
            out.append((r, tonic, mode))
    return sorted(out, reverse=True)


def signature_pc(tonic: int, mode: str) -> int:
    """Pitch class of the relative major, i.e. which key signature the key uses."""
    return (tonic - MODE_DEGREE.get(mode, 0)) % 12


def key_meta_signature(key: str) -> int:
    """Relative-major PC of a mido key_signature value such as "F#m" or "Bb"."""
    if key.endswith("m"):
        return (note_pc(key[:-1]) + 3) % 12
    return note_pc(key)


def estimate_root(weights: dict[int, float], bass_pc: int | None) -> int | None:
    """Root of a sounding PC set: best-matching major/minor/diminished triad template."""
    if not weights:
        return None
    best: tuple[float, int] | None = None
    total = sum(weights.values())
    for root in range(12):
        for third, fifth in ((4, 7), (3, 7), (3, 6)):
            tmpl = {root, (root + third) % 12, (root + fifth) % 12}
            inside = sum(w for pc, w in weights.items() if pc in tmpl)
            score = inside - 0.5 * (total - inside)
            score += 0.25 * total if bass_pc == root else 0.0
            score += 0.1 * weights.get(root, 0.0)
            if best is None or score > best[0]:
                best = (score, root)
    return None if best is None else best[1]


# --------------------------------------------------------------------------- helpers


def median(xs: Iterable[float]) -> float | None:
    vals = list(xs)
    return statistics.median(vals) if vals else None


def mean(xs: Iterable[float]) -> float | None:
    vals = list(xs)
    return statistics.fmean(vals) if vals else None


def share(flags: Iterable[bool]) -> tuple[int, int]:
    vals = list(flags)
    return sum(vals), len(vals)


def quantise(tick: int, grid: int) -> int:
    return round(tick / grid) * grid


def lowest_at(notes: Sequence[Note], tick: int, tol: int) -> Note | None:
    """Lowest note starting within ±tol of tick, else the lowest one held across it."""
    starting = [n for n in notes if abs(n.start - tick) <= tol]
    if starting:
        return min(starting, key=lambda n: n.pitch)
    held = [n for n in notes if n.start < tick < n.end]
    return min(held, key=lambda n: n.pitch) if held else None


def longest_run(values: Sequence[int | None]) -> int:
    best = run = 0
    prev: int | None = None
    for v in values:
        run = run + 1 if v is not None and v == prev else (1 if v is not None else 0)
        prev = v
        best = max(best, run)
    return best


def chord_slots(plan: dict[str, Any], midi: Midi) -> list[tuple[int, str]]:
    """(onset tick, symbol) of every progression slot the plan claims, in order."""
    slots = []
    for slot in plan.get("progression", []):
        tick = int(slot["bar"]) * midi.bar_ticks + round(float(slot["beat"]) * midi.tpb)
        slots.append((tick, str(slot["symbol"])))
    return sorted(slots)


def chord_at(slots: Sequence[tuple[int, str]], tick: int) -> str | None:
    current: str | None = None
    for onset, symbol in slots:
        if onset > tick:
            break
        current = symbol
    return current


def valence_label(x: float) -> str:
    return "positive" if x > 0.15 else "negative" if x < -0.15 else "neutral"


def arousal_label(x: float) -> str:
    return "high" if x > 0.15 else "low" if x < -0.15 else "mid"


# --------------------------------------------------------------------------- metrics

BarSig = tuple[tuple[int, int], ...]
BarBlock = tuple[BarSig, BarSig]
ShapeBlock = tuple[tuple[int, int, int], ...]


@dataclass(slots=True)
class Piece:
    """Every per-piece figure; None where the figure does not apply to this piece."""

    id: str
    seed: int
    row: dict[str, Any]
    plan: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)


ChordTones = tuple[int, frozenset[int], int | None]
Figures = dict[str, Any]


@dataclass(slots=True)
class Reading:
    """One piece as the figures read it: the parsed file, what the plan claims and the
    grids (bar, sixteenth, 32nd tolerance) in the file's ticks."""

    row: dict[str, Any]
    plan: dict[str, Any]
    midi: Midi
    tech: dict[str, Any]
    bar: int
    grid: int
    tol: int
    n_bars: int
    tonic: int
    mode: str
    rule_breaks: set[str]
    slots: list[tuple[int, str]]
    final_chord: ChordTones | None
    """The last planned chord, parsed."""

    @classmethod
    def of(cls, row: dict[str, Any], plan: dict[str, Any], midi: Midi) -> Reading:
        slots = chord_slots(plan, midi)
        final_symbol = slots[-1][1] if slots else None
        return cls(
            row=row,
            plan=plan,
            midi=midi,
            tech=row.get("technical") or {},
            bar=midi.bar_ticks,
            grid=max(1, midi.tpb // 4),
            tol=max(1, midi.tpb // 8),
            n_bars=int(plan["length_bars"]),
            tonic=note_pc(str(plan["key_tonic"])),
            mode=str(plan["key_mode"]),
            rule_breaks={
                str(r["name"]) if isinstance(r, dict) else str(r) for r in plan["rule_breaks"]
            },
            slots=slots,
            final_chord=parse_chord(final_symbol) if final_symbol else None,
        )

    def part(self, role: str) -> list[Note]:
        return self.midi.notes.get(role, [])

    def bar_of(self, n: Note) -> int:
        return quantise(n.start, self.grid) // self.bar

    def sounding_in_last_bar(self, notes: Sequence[Note]) -> list[Note]:
        last_bar = self.n_bars - 1
        return [
            n for n in notes if self.bar_of(n) == last_bar or n.start < last_bar * self.bar < n.end
        ]


def analyse(row: dict[str, Any], seed: int, plan: dict[str, Any], data: bytes) -> Piece:
    """Every figure of one piece, measured from its MIDI bytes, in the JSON's key order."""
    midi = parse_midi(data)
    piece = Piece(id=str(row["id"]), seed=seed, row=row, plan=plan)
    f = piece.figures
    f["midi_sha1"] = hashlib.sha1(data).hexdigest()
    r = Reading.of(row, plan, midi)
    claim_figures(r, f)
    form_figures(r, f)
    bass_figures(r, f)
    tonal_figures(r, data, f)
    mix_figures(r, f)
    idiom_figures(r, f)
    ending_figures(r, f)
    return piece


# 0. claims against the blind labels and the requests


def claim_figures(r: Reading, f: Figures) -> None:
    emo = r.plan["emotion"]
    f["preset"] = emo["preset"]
    f["plan_valence"] = emo["valence"]
    f["plan_arousal"] = emo["arousal"]
    f["valence_agrees"] = valence_label(float(emo["valence"])) == r.row["expect_valence"]
    f["arousal_agrees"] = arousal_label(float(emo["arousal"])) == r.row["expect_arousal"]
    f["meter_in_file"] = f"{r.midi.numerator}/{r.midi.denominator}"
    f["meter_matches_plan"] = f["meter_in_file"] == r.plan["time_signature"]
    last_onset_bar = max((r.bar_of(n) for ns in r.midi.notes.values() for n in ns), default=-1)
    f["bars_in_file"] = last_onset_bar + 1
    f["length_matches_plan"] = last_onset_bar + 1 == r.n_bars
    f["requests"] = request_figures(r, f["meter_in_file"], f["bars_in_file"])
    if r.midi.key_signature is not None:
        f["key_meta_matches_mode"] = key_meta_signature(r.midi.key_signature) == signature_pc(
            r.tonic, r.mode
        )


def request_figures(r: Reading, meter_in_file: str, bars_in_file: int) -> dict[str, bool]:
    """Whether each technical wish the sentence made was honoured."""
    tech = r.tech
    honoured: dict[str, bool] = {}
    if "time_signature" in tech:
        honoured["meter"] = meter_in_file == tech["time_signature"]
    if "length_bars" in tech:
        honoured["length"] = bars_in_file == tech["length_bars"]
    if "genre" in tech:
        honoured["genre"] = r.plan["instrumentation"]["genre"] == tech["genre"]
    if "key" in tech:
        honoured["key"] = key_honoured(str(tech["key"]), r.tonic, r.mode)
    if "progression" in tech:
        honoured["progression"] = progression_honoured(
            str(tech["progression"]), r.plan["progression"]
        )
    return honoured


def key_honoured(wish: str, tonic: int, mode: str) -> bool:
    """The planned tonic is the wished one, and so is the mode's place in its scale."""
    parts = wish.split()
    want_mode = parts[1].lower() if len(parts) > 1 else None
    ok = note_pc(parts[0]) == tonic
    if want_mode is not None:
        ok = ok and MODE_DEGREE.get(want_mode, -1) == MODE_DEGREE.get(mode, -2)
    return ok


def progression_honoured(wish: str, progression: list[dict[str, Any]]) -> bool:
    """Every planned chord is the wished one at its place in the (repeated) wish, read as
    numerals or as symbols, as the wish is written."""
    asked = [t for t in re.split(r"[-\s,]+", wish) if t]
    got = [str(s["numeral"] if asked[0][0] in "iIvV" else s["symbol"]) for s in progression]
    return bool(got) and all(g == asked[i % len(asked)] for i, g in enumerate(got))


# 1. motif and form

Block = tuple[BarBlock, ShapeBlock]


def form_figures(r: Reading, f: Figures) -> None:
    sigs = melody_bar_signatures(r)
    blocks = [two_bar_block(sigs, i) for i in range(r.n_bars)]
    if r.n_bars >= 16:
        f["block_repeats_exact"], f["block_repeats_any"] = block_repeats(blocks)
        f["opening_returns_exact"], f["opening_returns_any"] = opening_returns(sigs, blocks)
    f["distinct_melody_bars_ratio"] = len({s for s in sigs if s}) / r.n_bars if r.n_bars else None
    finals = phrase_finals(r)
    f["phrase_final_pitches"] = finals
    f["phrase_final_same_run"] = longest_run(finals)


def melody_bar_signatures(r: Reading) -> list[BarSig]:
    """Each bar's melody as sorted (position in the bar, pitch) pairs."""
    melody = r.part("melody")
    return [
        tuple(
            sorted(
                (quantise(n.start, r.grid) - b * r.bar, n.pitch) for n in melody if r.bar_of(n) == b
            )
        )
        for b in range(r.n_bars)
    ]


def two_bar_block(sigs: Sequence[BarSig], i: int) -> Block | None:
    """Bars i and i+1 exactly, and as a shape (pitches relative to the first note)."""
    if i + 1 >= len(sigs) or len(sigs[i]) + len(sigs[i + 1]) < 2:
        return None
    exact = (sigs[i], sigs[i + 1])
    flat = [(0, pos, p) for pos, p in sigs[i]] + [(1, pos, p) for pos, p in sigs[i + 1]]
    p0 = flat[0][2]
    return exact, tuple((k, pos, p - p0) for k, pos, p in flat)


def block_repeats(blocks: Sequence[Block | None]) -> tuple[bool, bool]:
    """Whether a block recurs later (not overlapping itself): exactly; exactly or transposed."""
    pairs = [
        (bi, bj)
        for i, bi in enumerate(blocks)
        for bj in blocks[i + 2 :]
        if bi is not None and bj is not None
    ]
    return any(bi[0] == bj[0] for bi, bj in pairs), any(bi[1] == bj[1] for bi, bj in pairs)


def opening_returns(sigs: Sequence[BarSig], blocks: Sequence[Block | None]) -> tuple[bool, bool]:
    """Whether the block at the first bar with melody recurs: exactly; exactly or transposed."""
    first = next((b for b, sig in enumerate(sigs) if sig), None)
    opening = None if first is None else blocks[first]
    if first is None or opening is None:
        return False, False
    later = [bj for bj in blocks[first + 2 :] if bj is not None]
    return any(opening[0] == bj[0] for bj in later), any(opening[1] == bj[1] for bj in later)


def phrase_finals(r: Reading) -> list[int | None]:
    """The last melody pitch of each planned phrase (4-bar phrases if none are planned)."""
    phrases = [(int(p["start_bar"]), int(p["end_bar"])) for p in r.plan.get("phrases", [])]
    if not phrases:
        phrases = [(s, min(s + 4, r.n_bars)) for s in range(0, r.n_bars, 4)]
    finals: list[int | None] = []
    for start, end in phrases:
        inside = [n for n in r.part("melody") if start <= r.bar_of(n) < end]
        finals.append(max(inside, key=lambda n: (n.start, n.pitch)).pitch if inside else None)
    return finals


# 2. bass


def bass_figures(r: Reading, f: Figures) -> None:
    bass = r.part("bass")
    f["bass_on_root"] = share(bass_on_roots(r))
    f["requested_progression"] = "progression" in r.tech
    f["pedal_bars"] = pedal_bars(r)
    f["bass_repeat_share"] = (
        sum(a.pitch == b.pitch for a, b in itertools.pairwise(bass)) / (len(bass) - 1)
        if len(bass) > 1
        else None
    )
    if bass and r.final_chord is not None:
        last_bass = max(bass, key=lambda n: (n.start, -n.pitch))
        f["last_bass_on_final_root"] = last_bass.pitch % 12 == r.final_chord[0]


def bass_on_roots(r: Reading) -> list[bool]:
    """Per readable planned chord inside the piece: is the lowest bass note at its onset
    its root (or its slash bass)?"""
    found: list[bool] = []
    for onset, symbol in r.slots:
        chord = parse_chord(symbol)
        if onset >= r.n_bars * r.bar or chord is None:
            continue
        low = lowest_at(r.part("bass"), onset, r.tol)
        target = chord[2] if chord[2] is not None else chord[0]
        found.append(low is not None and low.pitch % 12 == target)
    return found


def pedal_bars(r: Reading) -> tuple[int, int]:
    """(bars whose bass plays the tonic, bars with a bass note) under a non-tonic chord."""
    pedal = bars = 0
    for b in range(r.n_bars):
        bar_symbol = chord_at(r.slots, b * r.bar)
        chord = parse_chord(bar_symbol) if bar_symbol else None
        if chord is None or chord[0] == r.tonic:
            continue
        low = lowest_at(r.part("bass"), b * r.bar, r.tol)
        if low is None:
            continue
        bars += 1
        pedal += low.pitch % 12 == r.tonic
    return pedal, bars


# 3. tonal anchoring


def tonal_figures(r: Reading, data: bytes, f: Figures) -> None:
    hist, pm_count = pretty_midi_view(data)
    f["pretty_midi_note_count_agrees"] = pm_count == len(r.midi.pitched())
    cands = key_candidates(hist)
    f["key_candidates"] = [f"{PC_NAMES[t]} {m} {c:.2f}" for c, t, m in cands[:3]]
    f["mode"] = r.mode
    f["modal"] = r.mode not in ("ionian", "aeolian", "major", "minor")
    if cands:
        _, top_tonic, top_mode = cands[0]
        f["finder_tonic_matches"] = top_tonic == r.tonic
        f["finder_tonic_in_top3"] = any(t == r.tonic for _, t, _ in cands[:3])
        f["finder_signature_matches"] = signature_pc(top_tonic, top_mode) == signature_pc(
            r.tonic, r.mode
        )
    f["negative_intense_major_like"] = (
        r.row["expect_valence"] == "negative" and bool(r.row["intense"]) and r.mode in MAJOR_LIKE
    )


# 4. expression and mix


def mix_figures(r: Reading, f: Figures) -> None:
    midi = r.midi
    pitched_roles = [role for role, ns in midi.notes.items() if role != "drums" and ns]
    f["cc7_cc10_every_pitched_track"] = bool(pitched_roles) and all(
        {7, 10} <= midi.controls.get(role, set()) for role in pitched_roles
    )
    f["cc11_anywhere"] = any(11 in cc for cc in midi.controls.values())
    sustain_roles = [
        role for role in pitched_roles if role == "pad" or 0 <= midi.programs.get(role, -1) <= 7
    ]
    f["sustain_roles"] = sustain_roles
    if sustain_roles:
        f["cc64_on_piano_pad"] = all(64 in midi.controls.get(role, set()) for role in sustain_roles)
    f["bar_velocity_ranges"] = bar_velocity_ranges(r, pitched_roles)
    f["mean_velocity"] = mean(n.velocity for n in midi.pitched())
    f["melody_above_bars"] = melody_above_bars(r)
    line = midi.melody_line()
    f["melody_moves"] = [abs(b - a) for a, b in itertools.pairwise(line)]
    f["melody_longest_repeat"] = longest_run(line)


def bar_velocity_ranges(r: Reading, roles: Sequence[str]) -> list[int]:
    """Per track and bar with two notes or more: the highest velocity minus the lowest."""
    ranges: list[int] = []
    for role in roles:
        by_bar: dict[int, list[int]] = {}
        for n in r.midi.notes[role]:
            by_bar.setdefault(r.bar_of(n), []).append(n.velocity)
        ranges.extend(max(v) - min(v) for v in by_bar.values() if len(v) > 1)
    return ranges


def melody_above_bars(r: Reading) -> tuple[int, int]:
    """(bars where the melody's mean pitch is above harmony's and pad's, bars with both)."""
    above = bars = 0
    for b in range(r.n_bars):
        mel = [n.pitch for n in r.part("melody") if r.bar_of(n) == b]
        others = [
            [n.pitch for n in ns if r.bar_of(n) == b]
            for ns in (r.part("harmony"), r.part("pad"))
            if ns
        ]
        others = [o for o in others if o]
        if not mel or not others:
            continue
        bars += 1
        above += all(statistics.fmean(mel) > statistics.fmean(o) for o in others)
    return above, bars


# 5. idiom


def idiom_figures(r: Reading, f: Figures) -> None:
    f["compound"] = r.midi.compound
    f["plan_swing"] = r.plan.get("groove", {}).get("swing")
    if r.midi.compound:
        compound_figures(r, f)
    if r.part("drums"):
        f["fills"] = drum_fills(r)
    if r.plan["instrumentation"]["genre"] == "rock" and r.part("harmony"):
        f["power_chord_share"] = power_chord_share(r.part("harmony"), r.grid)


def compound_figures(r: Reading, f: Figures) -> None:
    """Onsets within the dotted-quarter beat: where they fall, and off-beats off the
    eighth grid; in 6/8, whether kick and snare ever strike together."""
    midi, tol, drums = r.midi, r.tol, r.part("drums")
    eighth, beat = midi.tpb // 2, midi.beat_ticks
    hist12 = [0] * 12
    off = off_grid = 0
    devs: list[int] = []
    for n in midi.pitched() + drums:
        pos = n.start % beat
        hist12[min(11, pos * 12 // beat)] += 1
        if min(pos, beat - pos) <= tol:
            continue
        off += 1
        dev = min(abs(pos - eighth), abs(pos - 2 * eighth))
        devs.append(dev)
        off_grid += dev > tol
    f["beat_onset_histogram"] = hist12
    f["offbeat_displaced"] = (off_grid, off)
    f["offbeat_mean_deviation_ticks"] = mean(devs)
    if midi.numerator == 6 and drums:
        kicks = {n.start for n in drums if n.pitch in KICKS}
        snares = {n.start for n in drums if n.pitch in SNARES}
        f["kick_snare_together"] = bool(kicks & snares)


def drum_fills(r: Reading) -> tuple[int, int]:
    """(section starts with 4+ tom/snare hits in the beat before, section starts)."""
    fills = boundaries = 0
    for section in r.plan.get("sections", []):
        s = int(section["start_bar"])
        if s <= 0 or s >= r.n_bars:
            continue
        boundaries += 1
        lo, hi = s * r.bar - r.midi.beat_ticks - r.tol, s * r.bar - r.tol
        hits = sum(1 for n in r.part("drums") if n.pitch in TOMS | SNARES and lo <= n.start < hi)
        fills += hits >= 4
    return fills, boundaries


def power_chord_share(harmony: Sequence[Note], grid: int) -> float | None:
    """Share of harmony onsets of 2+ notes that are root-fifth (and octaves) only."""
    groups: dict[int, list[int]] = {}
    for n in harmony:
        groups.setdefault(quantise(n.start, grid), []).append(n.pitch)
    chords = [g for g in groups.values() if len(g) >= 2]
    power = sum(1 for g in chords if {(p - min(g)) % 12 for p in g} == {0, 7})
    return power / len(chords) if chords else None


# 7. ending


def ending_figures(r: Reading, f: Figures) -> None:
    melody = r.part("melody")
    last_mel = max(melody, key=lambda n: (n.start, n.pitch)) if melody else None
    if last_mel is not None and r.final_chord is not None:
        f["final_melody_in_planned_chord"] = last_mel.pitch % 12 in r.final_chord[1]
    weights = last_bar_weights(r)
    if weights:
        last_low = r.sounding_in_last_bar(r.part("bass"))
        bass_pc = min(last_low, key=lambda n: n.pitch).pitch % 12 if last_low else None
        root = estimate_root(weights, bass_pc)
        f["final_sounding_root"] = None if root is None else PC_NAMES[root]
        f["final_root_is_tonic"] = root == r.tonic
        f["ending_exempt"] = bool(r.rule_breaks & EXEMPT_ENDINGS)
        if last_mel is not None:
            f["final_melody_in_sounding_chord"] = last_mel.pitch % 12 in weights
    f["rule_breaks"] = sorted(r.rule_breaks)


def last_bar_weights(r: Reading) -> dict[int, float]:
    """Ticks each pitch class sounds in the last bar, from the harmony (else the pad)."""
    weights: dict[int, float] = {}
    for n in r.sounding_in_last_bar(r.part("harmony") or r.part("pad")):
        weights[n.pitch % 12] = weights.get(n.pitch % 12, 0.0) + (n.end - n.start)
    return weights


# --------------------------------------------------------------------------- audio


def render_audio(data: bytes, workdir: Path) -> dict[str, Any]:
    """Render with FluidSynth's defaults; clipped samples, peak dBFS, loudness."""
    mid, wav = workdir / "in.mid", workdir / "out.wav"
    mid.write_bytes(data)
    subprocess.run(
        ["fluidsynth", "-ni", "-F", str(wav), "-r", "44100", str(SOUNDFONT), str(mid)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    with wave.open(str(wav), "rb") as w:
        if w.getsampwidth() != 2:
            raise RuntimeError(f"expected 16-bit output, got {8 * w.getsampwidth()}-bit")
        channels, rate = w.getnchannels(), w.getframerate()
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int32)
    samples = raw.reshape(-1, channels)
    peak = int(np.max(np.abs(samples))) if samples.size else 0
    out: dict[str, Any] = {
        "clipped_samples": int(np.count_nonzero(np.abs(samples) >= 32767)),
        "peak_dbfs": 20 * math.log10(peak / 32768) if peak else -math.inf,
    }
    try:
        pyln = importlib.import_module("pyloudnorm")
        meter = pyln.Meter(rate)
        out["loudness_lufs"] = float(meter.integrated_loudness(samples / 32768.0))
    except ImportError:
        rms = float(np.sqrt(np.mean((samples / 32768.0) ** 2))) if samples.size else 0.0
        out["rms_dbfs"] = 20 * math.log10(rms) if rms else -math.inf
    return out


def audio_figures(midi: bytes, workdir: Path) -> dict[str, Any]:
    """render_audio's figures, or the error that stopped it."""
    try:
        return render_audio(midi, workdir)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        return {"error": repr(exc)}


# --------------------------------------------------------------------------- report


def fmt_share(pair: tuple[int, int]) -> str:
    k, n = pair
    return f"{k}/{n} ({100 * k / n:.0f}%)" if n else "n/a (0 cases)"


def fmt_num(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def pooled(pieces: Sequence[Piece], key: str) -> tuple[int, int]:
    k = n = 0
    for p in pieces:
        v = p.figures.get(key)
        if v is not None:
            k += int(v[0])
            n += int(v[1])
    return k, n


def flags(pieces: Sequence[Piece], key: str) -> tuple[int, int]:
    return share(bool(p.figures[key]) for p in pieces if p.figures.get(key) is not None)


Metric = tuple[str, str]
"""(metric, value): one row of a section of the table."""


def summarise(
    pieces: Sequence[Piece], failures: Sequence[dict[str, Any]]
) -> list[tuple[str, str, str]]:
    """The audit's table: (section, metric, value) rows in print order."""
    sections = (
        ("0 claims", claims_summary(pieces, failures)),
        ("1 form", form_summary(pieces)),
        ("2 bass", bass_summary(pieces)),
        ("3 tonal", tonal_summary(pieces)),
        ("4 mix", mix_summary(pieces)),
        ("5 idiom", idiom_summary(pieces)),
        ("6 audio", audio_summary(pieces)),
        ("7 ending", ending_summary(pieces)),
    )
    return [(name, metric, value) for name, metrics in sections for metric, value in metrics]


def flag_metrics(pieces: Sequence[Piece], table: Sequence[tuple[str, str]]) -> list[Metric]:
    """(metric, share of the pieces having the figure that have it true) per (metric, key)."""
    return [(metric, fmt_share(flags(pieces, key))) for metric, key in table]


def claims_summary(pieces: Sequence[Piece], failures: Sequence[dict[str, Any]]) -> list[Metric]:
    fig = [p.figures for p in pieces]
    requests = [
        (
            f"requested {req} honoured in the file/plan",
            fmt_share(share(bool(f["requests"][req]) for f in fig if req in f["requests"])),
        )
        for req in ("key", "progression", "genre", "meter", "length")
    ]
    return [
        ("pieces composed / wishes rejected or failed", f"{len(pieces)} / {len(failures)}"),
        (
            "pieces byte-identical to another sentence's piece (same seed)",
            fmt_share(byte_twins(pieces)),
        ),
        ("distinct planned keys per seed, sentences without a key wish", keys_per_seed(pieces)),
        *flag_metrics(
            pieces,
            (
                ("plan valence sign agrees with blind label", "valence_agrees"),
                ("plan arousal band agrees with blind label", "arousal_agrees"),
            ),
        ),
        *requests,
        *flag_metrics(
            pieces,
            (
                ("meter in file = plan meter", "meter_matches_plan"),
                ("bars with note onsets = plan length", "length_matches_plan"),
                ("key_signature meta = plan tonic+mode's signature", "key_meta_matches_mode"),
                (
                    "pretty_midi and mido count the same pitched notes",
                    "pretty_midi_note_count_agrees",
                ),
            ),
        ),
    ]


def byte_twins(pieces: Sequence[Piece]) -> tuple[int, int]:
    """(pieces whose bytes another sentence's piece of the same seed also has, pieces)."""
    by_bytes: dict[tuple[int, str], set[str]] = {}
    for p in pieces:
        by_bytes.setdefault((p.seed, str(p.figures["midi_sha1"])), set()).add(p.id)
    twins = sum(1 for p in pieces if len(by_bytes[(p.seed, str(p.figures["midi_sha1"]))]) > 1)
    return twins, len(pieces)


def keys_per_seed(pieces: Sequence[Piece]) -> str:
    """How many distinct keys each seed planned for the sentences that wished for none."""
    keys_by_seed: dict[int, set[str]] = {}
    for p in pieces:
        if "key" not in (p.row.get("technical") or {}):
            keys_by_seed.setdefault(p.seed, set()).add(
                f"{p.plan['key_tonic']} {p.plan['key_mode']}"
            )
    return ", ".join(f"seed {s}: {len(k)}" for s, k in sorted(keys_by_seed.items()))


def form_summary(pieces: Sequence[Piece]) -> list[Metric]:
    fig = [p.figures for p in pieces]
    ratios = [f["distinct_melody_bars_ratio"] for f in fig]
    runs = [int(f["phrase_final_same_run"]) for f in fig]
    return [
        *flag_metrics(
            pieces,
            (
                ("≥16 bars: a 2-bar melody block repeats, exact", "block_repeats_exact"),
                (
                    "≥16 bars: a 2-bar melody block repeats, exact or transposed",
                    "block_repeats_any",
                ),
                ("≥16 bars: opening 2 bars return, exact", "opening_returns_exact"),
                ("≥16 bars: opening 2 bars return, exact or transposed", "opening_returns_any"),
            ),
        ),
        ("median distinct melody bars / bars", fmt_num(median(r for r in ratios if r is not None))),
        (
            "phrase-final notes on one pitch: longest run (max; median)",
            f"{max(runs, default=0)}; {fmt_num(median(runs), 1)}",
        ),
        (
            "pieces with ≥3 consecutive phrase endings on one pitch",
            fmt_share(share(r >= 3 for r in runs)),
        ),
        *melody_move_metrics(fig),
        (
            "pieces with one melody pitch 4+ times running",
            fmt_share(share(int(f["melody_longest_repeat"]) >= 4 for f in fig)),
        ),
    ]


def melody_move_metrics(fig: Sequence[Figures]) -> list[Metric]:
    """Share of all melody intervals that are repeats, steps, thirds, fourths to sixths, larger."""
    moves = [m for f in fig for m in f["melody_moves"]]
    kinds: tuple[tuple[str, Callable[[int], bool]], ...] = (
        ("repeats", lambda m: m == 0),
        ("steps (1-2)", lambda m: 1 <= m <= 2),
        ("thirds (3-4)", lambda m: 3 <= m <= 4),
        ("fourths to sixths (5-9)", lambda m: 5 <= m <= 9),
        ("larger", lambda m: m > 9),
    )
    return [
        (f"melody intervals in semitones: {name}", fmt_share(share(map(test, moves))))
        for name, test in kinds
    ]


def bass_summary(pieces: Sequence[Piece]) -> list[Metric]:
    asked = [p for p in pieces if p.figures["requested_progression"]]
    repeats = [p.figures["bass_repeat_share"] for p in pieces]
    return [
        (
            "requested progressions: chords with bass on root at onset",
            fmt_share(pooled(asked, "bass_on_root")),
        ),
        (
            "all pieces: chords with bass on root at onset",
            fmt_share(pooled(pieces, "bass_on_root")),
        ),
        (
            "bars on a non-tonic chord where the bass plays the tonic (pedal)",
            fmt_share(pooled(pieces, "pedal_bars")),
        ),
        (
            "median share of bass notes repeating the previous pitch",
            fmt_num(median(r for r in repeats if r is not None)),
        ),
        (
            "last bass note = root of the final planned chord",
            fmt_share(flags(pieces, "last_bass_on_final_root")),
        ),
    ]


def tonal_summary(pieces: Sequence[Piece]) -> list[Metric]:
    locrian = sum(p.figures["mode"] == "locrian" for p in pieces)
    metrics: list[Metric] = [("pieces in locrian", f"{locrian}/{len(pieces)}")]
    for label, modal in (("ionian/aeolian", False), ("modal", True)):
        chosen = [p for p in pieces if bool(p.figures["modal"]) == modal]
        metrics += flag_metrics(
            chosen,
            (
                (f"{label}: finder's top key has the plan's tonic", "finder_tonic_matches"),
                (f"{label}: plan's tonic among finder's top 3", "finder_tonic_in_top3"),
                (
                    f"{label}: finder's top key has the plan's key signature",
                    "finder_signature_matches",
                ),
            ),
        )
    neg = [p for p in pieces if p.row["expect_valence"] == "negative" and p.row["intense"]]
    metrics += flag_metrics(
        neg, (("negative+intense pieces in a major-like mode", "negative_intense_major_like"),)
    )
    return metrics


def mix_summary(pieces: Sequence[Piece]) -> list[Metric]:
    ranges = [r for p in pieces for r in p.figures["bar_velocity_ranges"]]
    return [
        *flag_metrics(
            pieces,
            (
                ("CC7 and CC10 on every pitched track", "cc7_cc10_every_pitched_track"),
                ("CC11 anywhere", "cc11_anywhere"),
                ("CC64 on every piano/pad track (pieces having one)", "cc64_on_piano_pad"),
            ),
        ),
        ("median velocity range within a bar (per track)", fmt_num(median(ranges), 1)),
        *(
            (f"mean velocity, {v} (by arousal)", velocities_by_arousal(pieces, v))
            for v in ("negative", "neutral", "positive")
        ),
        (
            "bars with melody mean pitch above harmony and pad",
            fmt_share(pooled(pieces, "melody_above_bars")),
        ),
    ]


def velocities_by_arousal(pieces: Sequence[Piece], valence: str) -> str:
    """Mean velocity of the pieces with this blind valence label, per arousal label."""
    cells = []
    for a in ("low", "mid", "high"):
        m = mean(
            float(p.figures["mean_velocity"])
            for p in pieces
            if p.row["expect_valence"] == valence
            and p.row["expect_arousal"] == a
            and p.figures["mean_velocity"] is not None
        )
        cells.append(f"{a} {fmt_num(m, 0)}")
    return ", ".join(cells)


def idiom_summary(pieces: Sequence[Piece]) -> list[Metric]:
    comp = [p for p in pieces if p.figures["compound"]]
    rock = [float(s) for p in pieces if (s := p.figures.get("power_chord_share")) is not None]
    return [
        (
            "6/8, 9/8, 12/8 pieces: off-beat onsets off the eighth grid",
            fmt_share(pooled(comp, "offbeat_displaced")),
        ),
        (
            "6/8, 9/8, 12/8 pieces with any displaced off-beats (>10%)",
            fmt_share(displaced_pieces(comp)),
        ),
        ("compound onset histogram, 12 bins per dotted quarter (%)", onset_histogram(comp)),
        (
            "6/8 pieces with drums: kick and snare on the same tick",
            fmt_share(flags(pieces, "kick_snare_together")),
        ),
        (
            "drum fills before section starts (count / boundaries)",
            fmt_share(pooled(pieces, "fills")),
        ),
        (
            "rock pieces whose harmony is ≥80% power chords",
            fmt_share(share(s >= 0.8 for s in rock)),
        ),
        ("rock: mean share of harmony chords that are power chords", fmt_num(mean(rock))),
    ]


def displaced_pieces(comp: Sequence[Piece]) -> tuple[int, int]:
    """(pieces with more than 10% of their off-beats off the eighth grid, pieces with any)."""
    pairs = [p.figures["offbeat_displaced"] for p in comp]
    return share(displaced > 0.1 * off for displaced, off in pairs if off)


def onset_histogram(comp: Sequence[Piece]) -> str:
    """The compound pieces' onsets pooled in 12 bins per dotted quarter, as percentages."""
    hist = [0] * 12
    for p in comp:
        hist = [a + b for a, b in zip(hist, p.figures["beat_onset_histogram"], strict=True)]
    tot = sum(hist) or 1
    return " ".join(f"{100 * h / tot:.0f}" for h in hist)


def audio_summary(pieces: Sequence[Piece]) -> list[Metric]:
    audio = [p.figures["audio"] for p in pieces if "audio" in p.figures]
    if not audio:
        return [("not run", "pass --audio")]
    ok = [a for a in audio if "error" not in a]
    clips = [int(a["clipped_samples"]) for a in ok]
    peaks = [float(a["peak_dbfs"]) for a in ok]
    return [
        ("pieces rendered (errors)", f"{len(ok)} ({len(audio) - len(ok)})"),
        ("pieces with clipped samples", fmt_share(share(a["clipped_samples"] > 0 for a in ok))),
        (
            "clipped samples per piece (median; max)",
            f"{fmt_num(median(clips), 0)}; {max(clips, default=0)}",
        ),
        (
            "peak dBFS (median; max)",
            f"{fmt_num(median(peaks), 1)}; {fmt_num(max(peaks, default=None), 1)}",
        ),
        *loudness_metrics(ok),
    ]


def loudness_metrics(rendered: Sequence[dict[str, Any]]) -> list[Metric]:
    """Integrated loudness where pyloudnorm measured it, else plain RMS."""
    lufs = [
        a["loudness_lufs"]
        for a in rendered
        if "loudness_lufs" in a and math.isfinite(a["loudness_lufs"])
    ]
    rms = [a["rms_dbfs"] for a in rendered if "rms_dbfs" in a]
    metrics: list[Metric] = []
    if lufs:
        metrics.append(
            (
                "integrated loudness LUFS (median; min; max)",
                f"{fmt_num(median(lufs), 1)}; {min(lufs):.1f}; {max(lufs):.1f}",
            )
        )
    if rms:
        metrics.append(("RMS dBFS, no pyloudnorm (median)", fmt_num(median(rms), 1)))
    return metrics


def ending_summary(pieces: Sequence[Piece]) -> list[Metric]:
    exempt = [p for p in pieces if p.figures.get("ending_exempt")]
    held = [p for p in pieces if not p.figures.get("ending_exempt")]
    return [
        *flag_metrics(
            pieces,
            (
                (
                    "final melody note is a tone of the final planned chord",
                    "final_melody_in_planned_chord",
                ),
                (
                    "final melody note is among the last bar's harmony PCs",
                    "final_melody_in_sounding_chord",
                ),
            ),
        ),
        (
            "last-bar harmony rooted on the planned tonic (no rule break)",
            fmt_share(flags(held, "final_root_is_tonic")),
        ),
        (
            "same, pieces asking to avoid resolution / keep dissonance",
            fmt_share(flags(exempt, "final_root_is_tonic")),
        ),
    ]


def print_table(rows: Sequence[tuple[str, str, str]], out: Any = sys.stdout) -> None:
    w1 = max(len(r[0]) for r in rows)
    w2 = max(len(r[1]) for r in rows)
    print(f"| {'section':<{w1}} | {'metric':<{w2}} | value |", file=out)
    print(f"|{'-' * (w1 + 2)}|{'-' * (w2 + 2)}|-------|", file=out)
    for a, b, c in rows:
        print(f"| {a:<{w1}} | {b:<{w2}} | {c} |", file=out)


def load_rows(path: Path) -> list[dict[str, Any]]:
    """The labelled sentences; set 2 writes the middle arousal band "medium", set 1 "mid"."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            row["expect_arousal"] = {"medium": "mid"}.get(
                row["expect_arousal"], row["expect_arousal"]
            )
            rows.append(row)
    return rows


def audit_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sentences", type=Path, default=DEFAULT_SENTENCES)
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds (default 1,2,3)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every per-piece figure")
    parser.add_argument("--audio", action="store_true", help="render with FluidSynth (slow)")
    parser.add_argument("--limit", type=int, help="render at most N pieces with --audio")
    return parser


def compose_or_record(
    intent: Intent, row: dict[str, Any], seed: int, failures: list[dict[str, Any]]
) -> Composition | None:
    """The composition, or None with the rejection or crash recorded in ``failures``."""
    try:
        return compose(intent, seed=seed)
    except TechnicalWishError as exc:
        failures.append({"id": row["id"], "seed": seed, "rejected": f"{exc.code}: {exc.message}"})
    except Exception as exc:  # the audit reports a crash, it does not stop on one
        failures.append({"id": row["id"], "seed": seed, "crashed": repr(exc)})
    return None


def compose_all(
    rows: Sequence[dict[str, Any]], seeds: Sequence[int], audio: bool, limit: int | None
) -> tuple[list[Piece], list[dict[str, Any]]]:
    """Every sentence at every seed, analysed (the first ``limit`` rendered with ``audio``),
    and the pieces that were not composed."""
    pieces: list[Piece] = []
    failures: list[dict[str, Any]] = []
    rendered = 0
    with tempfile.TemporaryDirectory(prefix="music_audit_") as tmp:
        for row in rows:
            technical = TechnicalWishes.model_validate(row.get("technical") or {})
            intent = Intent(emotional_intent=row["text"], technical=technical)
            for seed in seeds:
                result = compose_or_record(intent, row, seed, failures)
                if result is None:
                    continue
                piece = analyse(row, seed, result.plan.to_dict(), result.midi)
                if audio and (limit is None or rendered < limit):
                    piece.figures["audio"] = audio_figures(result.midi, Path(tmp))
                    rendered += 1
                pieces.append(piece)
    return pieces, failures


def json_document(
    seeds: Sequence[int],
    sentences: Path,
    table: Sequence[tuple[str, str, str]],
    failures: Sequence[dict[str, Any]],
    pieces: Sequence[Piece],
) -> dict[str, Any]:
    """What --json writes: the run, the table, the failures and every per-piece figure."""
    return {
        "seeds": seeds,
        "sentences": str(sentences),
        "summary": [{"section": a, "metric": b, "value": c} for a, b, c in table],
        "failures": failures,
        "pieces": [
            {
                "id": p.id,
                "seed": p.seed,
                "plan_key": f"{p.plan['key_tonic']} {p.plan['key_mode']}",
                "genre": p.plan["instrumentation"]["genre"],
                "meter": p.plan["time_signature"],
                "length_bars": p.plan["length_bars"],
                **p.figures,
            }
            for p in pieces
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = audit_parser()
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    rows = load_rows(args.sentences)
    if args.audio and (shutil.which("fluidsynth") is None or not SOUNDFONT.exists()):
        parser.error("--audio needs fluidsynth and fluid-soundfont-gm (apt-get install)")
    kmidi_mod = importlib.import_module("kmidi")
    began = time.perf_counter()
    pieces, failures = compose_all(rows, seeds, args.audio, args.limit)
    elapsed = time.perf_counter() - began
    table = summarise(pieces, failures)
    print(
        f"music audit: {len(rows)} sentences x seeds {seeds}, kmidi from "
        f"{Path(str(kmidi_mod.__file__)).parent}, {elapsed:.1f} s"
    )
    print_table(table)
    for failure in failures:
        print(f"not composed: {failure}")
    if args.json is not None:
        doc = json_document(seeds, args.sentences, table, failures, pieces)
        args.json.write_text(json.dumps(doc, indent=1, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
