"""``kmidi compose``: write a MIDI file (and optionally its JSON document) from a sentence.

    kmidi compose "I am feeling grief" -o grief.mid --seed 7 --json grief.json

``-o PATH`` writes the MIDI; ``--json PATH`` writes the document (affect, plan, notes,
seed, duration), ``--json -`` prints it; ``--audio PATH`` renders audio with FluidSynth
(``.ogg`` Vorbis, ``.opus`` or ``.wav``, chosen by the suffix; see docs/audio.md). With none
of them, the MIDI goes to ``kmidi-<seed>.mid``. The seed is always printed to stderr so the
piece can be replayed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from kmidi.compose import MAX_SEED, Composition, compose, new_seed
from kmidi.errors import TechnicalWishError
from schemas.intent import GENRES, Intent

EXIT_AUDIO_FAILED = 1
EXIT_BAD_WISH = 2
_TIME_SIGNATURES = ("2/4", "3/4", "4/4", "5/4", "6/8", "7/8", "9/8", "12/8")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``compose`` subcommand to the ``kmidi`` command."""
    parser = subparsers.add_parser(
        "compose",
        help="compose a MIDI file from an emotional intent",
        description="Compose a multi-track MIDI file that sounds like the emotion described.",
    )
    parser.add_argument("text", help='what you feel, e.g. "I am feeling grief"')
    parser.add_argument("-o", "--output", type=Path, help="MIDI file to write")
    parser.add_argument(
        "--json",
        metavar="PATH",
        help='write the document (affect, plan, notes, seed) to PATH, or "-" for stdout',
    )
    parser.add_argument(
        "--audio",
        type=Path,
        metavar="PATH",
        help="also render audio with FluidSynth: .ogg (Vorbis), .opus or .wav",
    )
    parser.add_argument("--seed", type=int, help=f"0..{MAX_SEED}; same seed, same piece")
    parser.add_argument("--key", help='e.g. "F#", "Bb minor", "D dorian"')
    parser.add_argument("--bpm", type=float, help="tempo, 40–240 quarter notes per minute")
    parser.add_argument("--genre", choices=GENRES)
    parser.add_argument("--bars", type=int, help="length in bars, 1–256")
    parser.add_argument("--time-signature", choices=_TIME_SIGNATURES)
    parser.add_argument("--progression", help='e.g. "i-VI-III-VII" or "Am F C G"')
    parser.add_argument(
        "--rule-break",
        action="append",
        dest="rule_breaks",
        metavar="NAME",
        help="deliberate rule-breaking, repeatable (e.g. avoid_tonic_resolution)",
    )
    parser.add_argument("--wound", help="the core wound, in words")
    parser.add_argument("--desire", help="the core desire, in words")
    parser.set_defaults(handler=run)


def _fail(message: str) -> int:
    print(f"kmidi compose: {message}", file=sys.stderr)
    return EXIT_BAD_WISH


def run(args: argparse.Namespace) -> int:
    """Compose and write the outputs; 2 for a wish that cannot be honoured."""
    try:
        intent = _intent(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return _fail(f"{where}: {first['msg']}")
    if args.audio is not None:
        # Checked before composing so a typo fails at once, not after the work.
        problem = _audio_path_problem(args.audio)
        if problem is not None:
            return _fail(problem)
    seed = args.seed if args.seed is not None else new_seed()
    if not 0 <= seed <= MAX_SEED:
        return _fail(f"--seed must be in 0..{MAX_SEED}")
    try:
        result = compose(intent, seed=seed)
    except TechnicalWishError as exc:
        return _fail(f"{exc.code}: {exc.message}")
    print(f"seed: {seed}", file=sys.stderr)
    output = args.output
    if output is None and args.json is None and args.audio is None:
        output = Path(f"kmidi-{seed}.mid")
    if output is not None:
        _write_midi(result, output)
    if args.json is not None:
        _write_document(result, args.json)
    if args.audio is not None:
        return _write_audio(result, args.audio)
    return 0


def _intent(args: argparse.Namespace) -> Intent:
    """The intent the arguments describe; ValidationError when it is not a valid one."""
    technical = {
        name: value
        for name, value in (
            ("key", args.key),
            ("bpm", args.bpm),
            ("genre", args.genre),
            ("length_bars", args.bars),
            ("time_signature", args.time_signature),
            ("progression", args.progression),
            ("rule_breaks", args.rule_breaks),
        )
        if value is not None
    }
    return Intent(
        emotional_intent=args.text,
        core_wound=args.wound,
        core_desire=args.desire,
        technical=technical,
    )


def _audio_path_problem(path: Path) -> str | None:
    """Why no audio can be written to ``path`` (its suffix names no format), if so."""
    from kmidi.audio import format_for_path

    try:
        format_for_path(path)
    except ValueError as exc:
        return f"--audio: {exc}"
    return None


def _write_midi(result: Composition, path: Path) -> None:
    path.write_bytes(result.piece.midi)
    plan = result.plan
    print(
        f"wrote {path}: {plan.emotion.preset}, {plan.key_tonic} {plan.key_mode}, "
        f"{plan.tempo_bpm:g} bpm, {plan.time_signature}, {plan.length_bars} bars, "
        f"{plan.instrumentation.genre}, {result.piece.duration_seconds:.1f} s",
        file=sys.stderr,
    )


def _write_document(result: Composition, target: str) -> None:
    """The JSON document to ``target``, a path or "-" for stdout."""
    text = json.dumps(result.to_document(), indent=2, ensure_ascii=False)
    if target == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(target).write_text(text + "\n", encoding="utf-8")


def _write_audio(result: Composition, path: Path) -> int:
    """Render the piece's audio to ``path``; 1 with the reason when that is impossible."""
    # Imported here: scipy and libsndfile are loaded only when audio is asked for.
    from kmidi.audio import DESCRIPTIONS, AudioRenderError, format_for_path, render

    print("rendering audio with FluidSynth…", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        audio = render(result.piece.midi, format=format_for_path(path))
    except AudioRenderError as exc:
        print(f"kmidi compose: audio: {exc}", file=sys.stderr)
        return EXIT_AUDIO_FAILED
    path.write_bytes(audio.data)
    limited = ", held down by the -1 dBTP peak ceiling" if audio.peak_limited else ""
    print(
        f"wrote {path}: {DESCRIPTIONS[audio.format]}, {audio.sample_rate / 1000:g} kHz, "
        f"{audio.channels} channels, {audio.duration_seconds:.1f} s, "
        f"{audio.result.lufs:.1f} LUFS (gain {audio.gain_db:+.1f} dB{limited}), "
        f"true peak {audio.result.true_peak_dbtp:.1f} dBTP, "
        f"rendered in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0
