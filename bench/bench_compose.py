"""Benchmark: analyse text → plan → render a 32-bar, 4-track piece, on one core.

    .venv/bin/python bench/bench_compose.py [--runs 200] [--warmup 20]

Prints median and p95 per stage and in total, and a baseline measured in the same run:
mido building and saving a file with the same number of notes, tracks and ticks but no
musical logic. The ratio is ours / baseline. Ours and the baseline run in alternating
blocks of ``--block`` runs, each warm in its own loop. The "idle" line times pieces that
each follow a short pause, as a worker waiting for intents would see them: expect it to be
slower (caches and clock speed), and treat the warm median as the comparable figure.

"total" is analyse + plan + render (the MIDI bytes, all the generation worker needs). The
piece's note list is built on first access to ``piece.notes``; that is timed as its own
stage, "notes", and "+notes" is the total with it (what a caller wanting both pays).
A sparse piece (ambient, 32 bars, 4 tracks) is timed last, for contrast only.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time

import mido

from kmidi.affect import analyse_intent
from kmidi.plan import build_plan
from kmidi.render import PPQ, RenderedPiece, render_midi
from schemas.intent import Intent

INTENT = Intent(
    emotional_intent="I am so happy today, everything is bright!",
    technical={"genre": "rock", "length_bars": 32},
)
SEED = 12345
IDLE_PAUSE = 0.03
# For contrast, not the goal: a sparse 32-bar, 4-track piece (sustained chords, pedal bass).
SPARSE_INTENT = Intent(
    emotional_intent="calm and peaceful evening, quiet and still",
    technical={"genre": "ambient", "length_bars": 32},
)


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {0})
            return "pinned to CPU 0"
        except OSError as exc:
            return f"not pinned ({exc})"
    return "not pinned (no sched_setaffinity)"


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def baseline(piece: RenderedPiece) -> None:
    """mido writes the same notes (same tracks, ticks, pitches) with no musical logic."""
    tracks: dict[str, list[tuple[int, int, int, int, int]]] = {}
    for n in piece.notes:
        start = round(n.start_beats * PPQ)
        end = start + round(n.duration_beats * PPQ)
        tracks.setdefault(n.track, []).append((start, end, n.channel, n.pitch, n.velocity))
    mid = mido.MidiFile(type=1, ticks_per_beat=PPQ)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    for notes in tracks.values():
        events = []
        for start, end, ch, pitch, vel in notes:
            events.append((start, 1, ch, pitch, vel))
            events.append((end, 0, ch, pitch, 0))
        events.sort()
        track = mido.MidiTrack()
        now = 0
        for tick, on, ch, pitch, vel in events:
            kind = "note_on" if on else "note_off"
            track.append(mido.Message(kind, channel=ch, note=pitch, velocity=vel, time=tick - now))
            now = tick
        mid.tracks.append(track)
    mid.save(file=io.BytesIO())


def sparse_total(runs: int, warmup: int) -> tuple[list[float], int]:
    """Analyse + plan + render times of ``SPARSE_INTENT``, and its note count."""
    clock = time.perf_counter
    samples: list[float] = []
    piece = None
    for i in range(warmup + runs):
        t0 = clock()
        plan = build_plan(SPARSE_INTENT, analyse_intent(SPARSE_INTENT), seed=SEED)
        piece = render_midi(plan)
        if i >= warmup:
            samples.append(clock() - t0)
    assert piece is not None
    return samples, len(piece.notes)


def compose_once(
    stages: dict[str, list[float]] | None = None,
) -> tuple[RenderedPiece, int]:
    """Analyse, plan and render ``INTENT`` once; record stage times into ``stages``."""
    clock = time.perf_counter
    t0 = clock()
    affect = analyse_intent(INTENT)
    t1 = clock()
    plan = build_plan(INTENT, affect, seed=SEED)
    t2 = clock()
    piece = render_midi(plan)
    t3 = clock()
    piece.notes  # noqa: B018 - first access builds the note list
    t4 = clock()
    if stages is not None:
        stages["analyse"].append(t1 - t0)
        stages["plan"].append(t2 - t1)
        stages["render"].append(t3 - t2)
        stages["total"].append(t3 - t0)
        stages["notes"].append(t4 - t3)
        stages["+notes"].append(t4 - t0)
    return piece, plan.length_bars


def warm_timings(
    piece: RenderedPiece, runs: int, block: int
) -> tuple[dict[str, list[float]], list[float], list[float]]:
    """``runs`` stage times and thread CPU times of ``compose_once``, and ``runs`` times of
    the baseline writing ``piece``."""
    clock = time.perf_counter
    stages: dict[str, list[float]] = {
        name: [] for name in ("analyse", "plan", "render", "total", "notes", "+notes")
    }
    cpu: list[float] = []
    base: list[float] = []
    # Ours and the baseline alternate in blocks, so both see the same machine (load, clock
    # speed) and each runs warm in its own loop, as timeit or pyperf would measure it.
    while len(base) < runs:
        for _ in range(min(block, runs - len(base))):
            c0 = time.thread_time()
            compose_once(stages)
            cpu.append(time.thread_time() - c0)
        for _ in range(min(block, runs - len(base))):
            t0 = clock()
            baseline(piece)
            base.append(clock() - t0)
    return stages, cpu, base


def idle_totals(count: int) -> list[float]:
    """Total times of ``count`` pieces that each follow an ``IDLE_PAUSE`` pause."""
    clock = time.perf_counter
    # A worker that waited for its next intent starts cold (caches, clock speed): time
    # pieces that each follow an idle pause, for contrast.
    idle: list[float] = []
    for _ in range(count):
        time.sleep(IDLE_PAUSE)
        t0 = clock()
        compose_once()
        idle.append(clock() - t0)
    return idle


def print_setup(args: argparse.Namespace, pinned: str, piece: RenderedPiece, bars: int) -> None:
    """The interpreter, the machine and the piece timed."""
    tracks = sorted({n.track for n in piece.notes})
    print(f"python {sys.version.split()[0]}, {pinned}, {args.runs} runs, {args.warmup} warm-up")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(
        f"piece: {bars} bars, {len(tracks)} tracks ({', '.join(tracks)}), "
        f"{len(piece.notes)} notes, {len(piece.midi)} bytes, genre rock"
    )


def print_warm(stages: dict[str, list[float]], cpu: list[float], base: list[float]) -> None:
    """Each stage's warm figures, the baseline's, their ratio and the goal."""
    for name, samples in stages.items():
        med, p95 = quantiles(samples)
        print(f"{name:>8}: median {med * 1e3:7.3f} ms   p95 {p95 * 1e3:7.3f} ms")
    cmed, cp95 = quantiles(cpu)
    print(f"  +notes: median {cmed * 1e3:7.3f} ms   p95 {cp95 * 1e3:7.3f} ms  (thread CPU time)")
    bmed, bp95 = quantiles(base)
    tmed, _ = quantiles(stages["total"])
    print(f"baseline: median {bmed * 1e3:7.3f} ms   p95 {bp95 * 1e3:7.3f} ms  (mido, same notes)")
    print(f"ratio total/baseline (medians): {tmed / bmed:.3f}")
    print(f"goal median <= 2 ms: {'met' if tmed <= 0.002 else 'NOT met'}")


def print_contrast(idle: list[float], runs: int, warmup: int) -> None:
    """The idle figures, then the sparse piece's (timed here, after the rest)."""
    imed, ip95 = quantiles(idle)
    print(
        f"    idle: median {imed * 1e3:7.3f} ms   p95 {ip95 * 1e3:7.3f} ms  "
        f"(total, each piece after a {IDLE_PAUSE * 1e3:.0f} ms pause: a cold start)"
    )
    sparse, sparse_notes = sparse_total(runs, warmup)
    smed, sp95 = quantiles(sparse)
    print(
        f"  sparse: median {smed * 1e3:7.3f} ms   p95 {sp95 * 1e3:7.3f} ms  "
        f"(analyse + plan + render, {sparse_notes} notes, genre ambient)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--block", type=int, default=20, help="runs per alternating block")
    args = parser.parse_args()
    pinned = pin_to_one_core()

    piece, bars = compose_once()
    for _ in range(args.warmup):
        compose_once()
        baseline(piece)
    stages, cpu, base = warm_timings(piece, args.runs, args.block)
    idle = idle_totals(max(20, args.runs // 5))

    print_setup(args, pinned, piece, bars)
    print_warm(stages, cpu, base)
    print_contrast(idle, args.runs, args.warmup)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
