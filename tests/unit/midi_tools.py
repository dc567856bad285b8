"""Independent checks of rendered MIDI: midicsv (a C parser, not mido) and timidity audio.

Missing tools make tests FAIL with an install hint, never skip.
"""

from __future__ import annotations

import csv
import math
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path

import pytest

INSTALL_HINT = "install it: apt-get install midicsv timidity fluid-soundfont-gm"


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH; {INSTALL_HINT}")
    return path


@dataclass
class CsvNote:
    track: str
    channel: int
    pitch: int
    velocity: int
    start: int
    end: int


@dataclass
class ParsedMidi:
    """What midicsv saw in a file."""

    fmt: int
    division: int
    track_names: dict[int, str] = field(default_factory=dict)
    notes: list[CsvNote] = field(default_factory=list)
    tempos: list[tuple[int, int]] = field(default_factory=list)
    time_signatures: list[tuple[int, int, int]] = field(default_factory=list)
    key_signatures: list[tuple[int, int, str]] = field(default_factory=list)
    programs: dict[str, int] = field(default_factory=dict)
    controls: list[tuple[str, int, int, int]] = field(default_factory=list)
    """(track name, tick, controller number, value) of every control change."""
    track_ends: dict[int, int] = field(default_factory=dict)
    unterminated: int = 0

    @property
    def end_tick(self) -> int:
        return max(self.track_ends.values())

    def seconds(self, tick: int) -> float:
        """Seconds at ``tick`` under the tempo map (500000 µs/quarter before any tempo)."""
        secs, last_tick, tempo = 0.0, 0, 500_000
        for t, us in sorted(self.tempos):
            if t >= tick:
                break
            secs += (t - last_tick) * tempo / 1e6 / self.division
            last_tick, tempo = t, us
        return secs + (tick - last_tick) * tempo / 1e6 / self.division

    def track(self, name: str) -> list[CsvNote]:
        return [n for n in self.notes if n.track == name]

    def controller(self, track: str, number: int) -> list[tuple[int, int]]:
        """(tick, value) of one track's changes of controller ``number``, in file order."""
        return [(t, v) for name, t, n, v in self.controls if name == track and n == number]

    @property
    def bar_ticks(self) -> int:
        _, num, den = self.time_signatures[0]
        return self.division * 4 * num // den


def midicsv(midi: bytes) -> ParsedMidi:
    """Parse MIDI bytes with the midicsv program."""
    exe = require_tool("midicsv")
    with tempfile.NamedTemporaryFile(suffix=".mid") as fh:
        fh.write(midi)
        fh.flush()
        proc = subprocess.run([exe, fh.name], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"midicsv rejected the file: {proc.stderr.strip()}"
    assert "Error" not in proc.stderr, proc.stderr
    rows = list(csv.reader(proc.stdout.splitlines(), skipinitialspace=True))
    header = next(r for r in rows if r[2] == "Header")
    parsed = ParsedMidi(fmt=int(header[3]), division=int(header[5]))
    open_notes: dict[tuple[int, int, int], list[tuple[int, int]]] = {}
    for row in rows:
        trk, tick, kind = int(row[0]), int(row[1]), row[2]
        if kind == "Title_t":
            parsed.track_names[trk] = row[3]
        elif kind == "Tempo":
            parsed.tempos.append((tick, int(row[3])))
        elif kind == "Time_signature":
            parsed.time_signatures.append((tick, int(row[3]), 2 ** int(row[4])))
        elif kind == "Key_signature":
            parsed.key_signatures.append((tick, int(row[3]), row[4]))
        elif kind == "Program_c":
            parsed.programs[parsed.track_names.get(trk, str(trk))] = int(row[4])
        elif kind == "Control_c":
            name = parsed.track_names.get(trk, str(trk))
            parsed.controls.append((name, tick, int(row[4]), int(row[5])))
        elif kind == "End_track":
            parsed.track_ends[trk] = tick
        elif kind in ("Note_on_c", "Note_off_c"):
            ch, pitch, vel = int(row[3]), int(row[4]), int(row[5])
            slot = (trk, ch, pitch)
            if kind == "Note_on_c" and vel > 0:
                open_notes.setdefault(slot, []).append((tick, vel))
            else:
                pending = open_notes.get(slot)
                assert pending, f"note off without note on: {row}"
                start, velocity = pending.pop(0)
                name = parsed.track_names.get(trk, str(trk))
                parsed.notes.append(CsvNote(name, ch, pitch, velocity, start, tick))
    parsed.unterminated = sum(len(v) for v in open_notes.values())
    parsed.notes.sort(key=lambda n: (n.start, n.track, n.pitch))
    return parsed


@dataclass
class Audio:
    seconds: float
    rms: float
    loud_fraction: float
    """Fraction of 50 ms windows above -50 dBFS."""


def render_audio(midi: bytes) -> Audio:
    """Render with timidity (GM soundfont) and measure the WAV with ``wave``."""
    exe = require_tool("timidity")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp, "in.mid"), Path(tmp, "out.wav")
        src.write_bytes(midi)
        proc = subprocess.run(
            [exe, "-Ow", "-o", str(out), str(src)], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, f"timidity failed: {proc.stderr[-500:]}"
        assert out.exists(), f"timidity wrote no WAV: {proc.stderr[-500:]}"
        with wave.open(str(out), "rb") as w:
            rate, width, chans = w.getframerate(), w.getsampwidth(), w.getnchannels()
            frames = w.getnframes()
            data = w.readframes(frames)
    assert width == 2, f"expected 16-bit WAV, got {width * 8}-bit"
    import array

    samples = array.array("h", data)
    window = int(rate * 0.05) * chans
    loud = total = 0
    sq_sum = 0.0
    threshold = 32768 * 10 ** (-50 / 20)
    for i in range(0, len(samples) - window + 1, window):
        chunk = samples[i : i + window]
        ms = sum(s * s for s in chunk[::8]) / len(chunk[::8])
        sq_sum += ms
        total += 1
        if math.sqrt(ms) > threshold:
            loud += 1
    rms = math.sqrt(sq_sum / total) if total else 0.0
    return Audio(seconds=frames / rate, rms=rms, loud_fraction=loud / total if total else 0.0)


# ---------------------------------------------------------------- analysis

_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)


def _corr(a: list[float], b: tuple[float, ...]) -> float:
    ma, mb = sum(a) / 12, sum(b) / 12
    num = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    den = math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))
    return num / den if den else 0.0


def pitch_class_durations(notes: list[CsvNote]) -> list[float]:
    hist = [0.0] * 12
    for n in notes:
        if n.channel != 9:
            hist[n.pitch % 12] += n.end - n.start
    return hist


def krumhansl(notes: list[CsvNote]) -> tuple[int, str, float]:
    """Krumhansl–Schmuckler key finding: (tonic pc, "major"|"minor", correlation)."""
    hist = pitch_class_durations(notes)
    best = (0, "major", -2.0)
    for tonic in range(12):
        rotated = hist[tonic:] + hist[:tonic]
        for name, profile in (("major", _MAJOR), ("minor", _MINOR)):
            r = _corr(rotated, profile)
            if r > best[2]:
                best = (tonic, name, r)
    return best


def minor_score(notes: list[CsvNote]) -> float:
    """Best minor-profile correlation minus best major-profile correlation (>0: minor)."""
    hist = pitch_class_durations(notes)
    best_major = max(_corr(hist[t:] + hist[:t], _MAJOR) for t in range(12))
    best_minor = max(_corr(hist[t:] + hist[:t], _MINOR) for t in range(12))
    return best_minor - best_major
