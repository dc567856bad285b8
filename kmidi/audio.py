"""MIDI in, playable audio out: FluidSynth + a General MIDI soundfont, loudness-normalised.

    from kmidi.audio import render_audio
    ogg = render_audio(piece.midi)                      # OGG Vorbis, 44.1 kHz stereo
    wav = render_audio(piece.midi, format="wav")        # 16-bit PCM WAV

The steps, each a small function a pipeline stage can also call on its own:

1. **synthesise**: the real ``fluidsynth`` program renders the MIDI to a 32-bit float WAV in
   a temporary directory (``fluidsynth -ni -F out.wav -T wav -O float -r RATE -g GAIN SF2
   in.mid``), under a timeout. Float output never clips, so the render gain only sets where
   the signal sits before normalisation.
2. **fit the length**: FluidSynth keeps rendering while voices release (seconds of reverb
   tail). The audio is cut (or padded with silence) to the MIDI's own length, mido's
   ``MidiFile.length``, and the last ``FADE_SECONDS`` get a raised-cosine fade so the cut
   does not click.
3. **normalise**: integrated loudness (ITU-R BS.1770-4, via ``pyloudnorm``) is brought to
   ``target_lufs`` (−16 LUFS by default), unless that would push the true peak (4× oversampled,
   BS.1770-4 Annex 2) above ``PEAK_CEILING_DBTP`` (−1 dBTP): then the gain stops at the
   ceiling and the result is quieter than the target (``RenderedAudio.peak_limited``).
   Nothing is compressed or limited; quiet pieces stay dynamic.
4. **encode** with libsndfile (``soundfile``): OGG Vorbis, Ogg Opus (rendered at 48 kHz, the
   rate Opus works at) or 16-bit PCM WAV.

No Kafka and no HTTP here: a stage calls ``render`` (bytes plus the measurements) or
``render_audio`` (bytes only) and stores the result wherever it likes.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args

import mido
import numpy as np
import numpy.typing as npt
import pyloudnorm  # type: ignore[import-untyped]
import soundfile  # type: ignore[import-untyped]
from scipy.signal import resample_poly  # type: ignore[import-untyped]

AudioFormat = Literal["ogg", "opus", "wav"]
AUDIO_FORMATS: Final[tuple[AudioFormat, ...]] = get_args(AudioFormat)

MEDIA_TYPES: Final[dict[AudioFormat, str]] = {
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "wav": "audio/wav",
}
DESCRIPTIONS: Final[dict[AudioFormat, str]] = {
    "ogg": "OGG Vorbis",
    "opus": "Ogg Opus",
    "wav": "16-bit PCM WAV",
}
SUFFIXES: Final[dict[AudioFormat, str]] = {"ogg": ".ogg", "opus": ".opus", "wav": ".wav"}
SAMPLE_RATES: Final[dict[AudioFormat, int]] = {"ogg": 44_100, "opus": 48_000, "wav": 44_100}
_ENCODINGS: Final[dict[AudioFormat, tuple[str, str]]] = {
    "ogg": ("OGG", "VORBIS"),
    "opus": ("OGG", "OPUS"),
    "wav": ("WAV", "PCM_16"),
}

TARGET_LUFS: Final = -16.0
PEAK_CEILING_DBTP: Final = -1.0
FADE_SECONDS: Final = 0.1
RENDER_GAIN: Final = 0.5
SOUNDFONT_ENV: Final = "KMIDI_SOUNDFONT"
DEFAULT_SOUNDFONTS: Final = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
)
APT_PACKAGES: Final = "fluidsynth fluid-soundfont-gm"
INSTALL_HINT: Final = f"install it: apt-get install {APT_PACKAGES}"

_BLOCK_SECONDS: Final = 0.4  # BS.1770 gating block; shorter audio is padded to measure it
_TRUE_PEAK_OVERSAMPLING: Final = 4
_CHUNK_FRAMES: Final = 1 << 20
_CHUNK_MARGIN: Final = 256  # input frames either side of a chunk: covers the filter's reach
_STDERR_TAIL: Final = 2000
_WRITE_FRAMES: Final = 1 << 14

Samples = npt.NDArray[np.float32]
"""Audio as float32 frames × channels, full scale ±1.0."""


class AudioRenderError(RuntimeError):
    """Audio could not be rendered; the message says why, fit to show a person."""


class AudioToolMissingError(AudioRenderError):
    """``fluidsynth`` or a General MIDI soundfont is not installed (the message says which)."""


@dataclass(frozen=True, slots=True)
class Loudness:
    """Integrated loudness (LUFS, ``-inf`` for silence) and true peak (dBTP) of a signal."""

    lufs: float
    true_peak_dbtp: float


@dataclass(frozen=True, slots=True)
class RenderedAudio:
    """Encoded audio and what was measured on the way (before lossy encoding)."""

    data: bytes
    format: AudioFormat
    sample_rate: int
    channels: int
    frames: int
    source: Loudness
    """The trimmed FluidSynth render, before normalisation."""
    result: Loudness
    """After normalisation, before encoding."""
    gain_db: float
    peak_limited: bool
    """True when the true-peak ceiling, not the loudness target, set the gain."""

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    @property
    def duration_seconds(self) -> float:
        return self.frames / self.sample_rate


def format_for_path(path: Path | str) -> AudioFormat:
    """The audio format a file name asks for by its suffix; ``ValueError`` if none fits."""
    suffix = Path(path).suffix.lower()
    for fmt, known in SUFFIXES.items():
        if suffix == known:
            return fmt
    accepted = ", ".join(f"{s} ({DESCRIPTIONS[f]})" for f, s in SUFFIXES.items())
    raise ValueError(f"cannot tell the audio format of {str(path)!r}: use one of {accepted}")


def find_fluidsynth() -> str:
    """Path of the ``fluidsynth`` program; ``AudioToolMissingError`` if it is not on PATH."""
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise AudioToolMissingError(f"fluidsynth is not on PATH; {INSTALL_HINT}")
    return exe


def find_soundfont(soundfont: Path | None = None) -> Path:
    """The soundfont to use: ``soundfont``, else ``$KMIDI_SOUNDFONT``, else Debian's GM one.

    A soundfont that was asked for by name and is missing is an error, never a fallback.
    """
    chosen = soundfont or (Path(env) if (env := os.environ.get(SOUNDFONT_ENV)) else None)
    if chosen is not None:
        if not chosen.is_file():
            raise AudioToolMissingError(
                f"soundfont {chosen} does not exist; point {SOUNDFONT_ENV} at a General MIDI "
                f".sf2 file or {INSTALL_HINT}"
            )
        return chosen
    for candidate in DEFAULT_SOUNDFONTS:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(p) for p in DEFAULT_SOUNDFONTS)
    raise AudioToolMissingError(
        f"no General MIDI soundfont found (looked for {looked}); {INSTALL_HINT}, "
        f"or set {SOUNDFONT_ENV}"
    )


def midi_length(midi: bytes) -> float:
    """The piece's length in seconds under its tempo map (mido's ``MidiFile.length``)."""
    try:
        return float(mido.MidiFile(file=io.BytesIO(midi)).length)
    except (OSError, ValueError, EOFError, KeyError) as exc:
        reason = str(exc) or "not a complete Standard MIDI File"
        raise AudioRenderError(f"cannot read the MIDI file: {reason}") from exc


def synthesize(
    midi: bytes,
    *,
    sample_rate: int,
    soundfont: Path | None = None,
    timeout: float | None = None,
) -> Samples:
    """Render ``midi`` with FluidSynth to float frames × 2 channels (release tail included).

    ``timeout`` defaults to 60 s plus the piece's length (FluidSynth renders many times
    faster than real time).
    """
    exe = find_fluidsynth()
    sf2 = find_soundfont(soundfont)
    if timeout is None:
        timeout = 60.0 + midi_length(midi)
    with tempfile.TemporaryDirectory(prefix="kmidi-audio-") as tmp:
        src, out = Path(tmp, "in.mid"), Path(tmp, "out.wav")
        src.write_bytes(midi)
        command = [exe, "-ni", "-q", "-F", str(out), "-T", "wav", "-O", "float"]
        command += ["-r", str(sample_rate), "-g", str(RENDER_GAIN), str(sf2), str(src)]
        stderr = _run_fluidsynth(command, timeout)
        if not out.is_file() or out.stat().st_size == 0:
            raise AudioRenderError(f"fluidsynth wrote no audio: {stderr}")
        data, rate = soundfile.read(str(out), dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise AudioRenderError(f"fluidsynth rendered {rate} Hz, asked for {sample_rate} Hz")
    return np.asarray(data, dtype=np.float32)


def _run_fluidsynth(command: list[str], timeout: float) -> str:
    """Run FluidSynth; its stderr (tail) on success, ``AudioRenderError`` on failure."""
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AudioRenderError(f"fluidsynth took longer than {timeout:.0f} s") from exc
    stderr = proc.stderr.strip()[-_STDERR_TAIL:]
    # FluidSynth exits 0 after rejecting its soundfont, rendering silence: catch that here.
    if proc.returncode != 0 or "not a SoundFont or MIDI file" in stderr:
        raise AudioRenderError(f"fluidsynth failed (exit {proc.returncode}): {stderr}")
    return stderr


def fit_length(samples: Samples, sample_rate: int, seconds: float) -> Samples:
    """Cut or pad ``samples`` to ``seconds`` and fade the last ``FADE_SECONDS`` out."""
    frames = round(seconds * sample_rate)
    if len(samples) >= frames:
        fitted = samples[:frames].copy()
    else:
        pad = np.zeros((frames - len(samples), samples.shape[1]), dtype=np.float32)
        fitted = np.concatenate([samples, pad])
    fade = min(frames, round(FADE_SECONDS * sample_rate))
    if fade > 1:
        ramp = 0.5 + 0.5 * np.cos(np.linspace(0.0, math.pi, fade, dtype=np.float32))
        fitted[-fade:] *= ramp[:, np.newaxis]
    return fitted


def true_peak_dbtp(samples: Samples) -> float:
    """True peak in dBTP: the largest magnitude of the signal oversampled 4× (BS.1770-4).

    Works in chunks so a long piece never needs four times its size in memory at once.
    """
    peak = float(np.abs(samples).max(initial=0.0))
    for start in range(0, len(samples), _CHUNK_FRAMES):
        stop = min(len(samples), start + _CHUNK_FRAMES)
        lo, hi = max(0, start - _CHUNK_MARGIN), min(len(samples), stop + _CHUNK_MARGIN)
        up = resample_poly(samples[lo:hi], _TRUE_PEAK_OVERSAMPLING, 1, axis=0)
        keep = slice((start - lo) * _TRUE_PEAK_OVERSAMPLING, (stop - lo) * _TRUE_PEAK_OVERSAMPLING)
        peak = max(peak, float(np.abs(up[keep]).max()))
    return _db(peak)


def measure(samples: Samples, sample_rate: int) -> Loudness:
    """Integrated loudness (BS.1770-4, gated) and true peak of ``samples``."""
    if not np.any(samples):
        return Loudness(lufs=-math.inf, true_peak_dbtp=-math.inf)
    # pyloudnorm needs one whole gating block; silence below the −70 LUFS gate adds nothing.
    short_by = round(_BLOCK_SECONDS * sample_rate) + 1 - len(samples)
    padded = np.pad(samples, ((0, max(0, short_by)), (0, 0))).astype(np.float64)
    lufs = float(pyloudnorm.Meter(sample_rate).integrated_loudness(padded))
    return Loudness(lufs=lufs, true_peak_dbtp=true_peak_dbtp(samples))


def normalisation_gain(source: Loudness, target_lufs: float) -> tuple[float, bool]:
    """Gain in dB that brings ``source`` to ``target_lufs`` without passing the peak ceiling.

    Returns the gain and whether the ceiling (not the target) set it. Silence gets 0 dB.
    """
    if not math.isfinite(source.lufs):
        return 0.0, False
    gain = target_lufs - source.lufs
    headroom = PEAK_CEILING_DBTP - source.true_peak_dbtp
    if gain > headroom:
        return headroom, True
    return gain, False


def encode(samples: Samples, sample_rate: int, fmt: AudioFormat) -> bytes:
    """Encode float frames as ``fmt`` with libsndfile, in blocks of ``_WRITE_FRAMES``."""
    container, subtype = _ENCODINGS[fmt]
    buffer = io.BytesIO()
    with soundfile.SoundFile(
        buffer, "w", sample_rate, samples.shape[1], subtype=subtype, format=container
    ) as out:
        # libvorbis allocas a buffer on the stack sized by one write call: a whole piece in
        # one call overflows the stack and kills the process (libsndfile issue 1095).
        for start in range(0, len(samples), _WRITE_FRAMES):
            out.write(samples[start : start + _WRITE_FRAMES])
    return buffer.getvalue()


def render(
    midi: bytes,
    *,
    format: AudioFormat = "ogg",
    soundfont: Path | None = None,
    target_lufs: float = TARGET_LUFS,
    timeout: float | None = None,
) -> RenderedAudio:
    """Render ``midi`` to normalised audio of the piece's exact length, with measurements.

    Loudness: ``target_lufs`` integrated, unless the true peak would then exceed −1 dBTP; the
    gain stops there and the audio is quieter than the target (``peak_limited`` is True).
    Raises ``AudioToolMissingError`` when fluidsynth or the soundfont is missing (the message
    names the Debian packages) and ``AudioRenderError`` when rendering fails.
    """
    if format not in AUDIO_FORMATS:
        raise ValueError(f"unknown audio format {format!r}; use one of {AUDIO_FORMATS}")
    rate = SAMPLE_RATES[format]
    seconds = midi_length(midi)
    raw = synthesize(midi, sample_rate=rate, soundfont=soundfont, timeout=timeout)
    fitted = fit_length(raw, rate, seconds)
    source = measure(fitted, rate)
    gain_db, limited = normalisation_gain(source, target_lufs)
    normalised = fitted * np.float32(10 ** (gain_db / 20))
    result = Loudness(lufs=source.lufs + gain_db, true_peak_dbtp=source.true_peak_dbtp + gain_db)
    return RenderedAudio(
        data=encode(normalised, rate, format),
        format=format,
        sample_rate=rate,
        channels=normalised.shape[1],
        frames=len(normalised),
        source=source,
        result=result,
        gain_db=gain_db,
        peak_limited=limited,
    )


def render_audio(
    midi: bytes,
    *,
    format: AudioFormat = "ogg",
    soundfont: Path | None = None,
    target_lufs: float = TARGET_LUFS,
) -> bytes:
    """Render ``midi`` to encoded audio bytes; see ``render`` for the rules and the errors."""
    return render(midi, format=format, soundfont=soundfont, target_lufs=target_lufs).data


def _db(amplitude: float) -> float:
    return 20 * math.log10(amplitude) if amplitude > 0 else -math.inf
