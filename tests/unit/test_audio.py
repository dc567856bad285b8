"""Audio rendering with the real FluidSynth and soundfont, checked by independent readers.

The output is read back with libsndfile (``soundfile``) and with FFmpeg (``ffprobe`` for the
stream, the ``ebur128`` filter for loudness and true peak); the piece's length comes from
midicsv, not mido. Missing tools make the tests FAIL with an install hint, never skip.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile  # type: ignore[import-untyped]

from kmidi import audio
from kmidi.compose import compose
from schemas.intent import Intent
from tests.unit.midi_tools import midicsv

FFMPEG_HINT = "install it: apt-get install ffmpeg"
LENGTH_TOLERANCE = 0.05
CODECS = {"ogg": "vorbis", "opus": "opus", "wav": "pcm_s16le"}
QUIET_FLOOR_DBFS = -40.0
METER_ARGS = ("-af", "ebur128=peak=true", "-f", "null", "-")
CLI = "from kmidi.cli.main import main; raise SystemExit(main())"


def _require(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH; {hint}")
    return path


@dataclass(frozen=True)
class Probe:
    """What FFmpeg saw in an audio file."""

    codec: str
    sample_rate: int
    channels: int
    seconds: float
    lufs: float
    true_peak_dbtp: float


def ffmpeg_probe(path: Path) -> Probe:
    """Read ``path`` with ffprobe (stream) and ffmpeg's ebur128 filter (BS.1770 meter)."""
    ffprobe, ffmpeg = _require("ffprobe", FFMPEG_HINT), _require("ffmpeg", FFMPEG_HINT)
    shown = subprocess.run(
        [
            ffprobe,
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(shown.stdout)
    (stream,) = info["streams"]
    metered = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostats", "-i", str(path), *METER_ARGS],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = metered.stderr[metered.stderr.rindex("Summary:") :]
    lufs = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert lufs, f"no integrated loudness in: {summary}"
    assert peak, f"no true peak in: {summary}"
    return Probe(
        codec=stream["codec_name"],
        sample_rate=int(stream["sample_rate"]),
        channels=int(stream["channels"]),
        seconds=float(info["format"]["duration"]),
        lufs=float(lufs.group(1)),
        true_peak_dbtp=float(peak.group(1)),
    )


@pytest.fixture(scope="module")
def midi() -> bytes:
    """A short, loud-ish piece (4 bars of funk, about 6.7 s)."""
    intent = Intent(emotional_intent="we won the championship!", technical={"length_bars": 4})
    return compose(intent, seed=7).piece.midi


@pytest.fixture(scope="module")
def piece_seconds(midi: bytes) -> float:
    """The piece's length as midicsv reads it (independent of mido)."""
    parsed = midicsv(midi)
    return parsed.seconds(parsed.end_tick)


@pytest.fixture(scope="module")
def rendered(
    midi: bytes, tmp_path_factory: pytest.TempPathFactory
) -> dict[audio.AudioFormat, tuple[audio.RenderedAudio, Path]]:
    _require("fluidsynth", audio.INSTALL_HINT)
    out = tmp_path_factory.mktemp("audio")
    results: dict[audio.AudioFormat, tuple[audio.RenderedAudio, Path]] = {}
    for fmt in audio.AUDIO_FORMATS:
        result = audio.render(midi, format=fmt)
        path = out / f"piece{audio.SUFFIXES[fmt]}"
        path.write_bytes(result.data)
        results[fmt] = (result, path)
    return results


def _decode(data: bytes) -> tuple[npt.NDArray[np.float64], int]:
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float64", always_2d=True)
    return samples, int(rate)


@pytest.mark.parametrize("fmt", audio.AUDIO_FORMATS)
def test_decodes_as_stereo_at_the_format_rate(
    fmt: audio.AudioFormat,
    rendered: dict[audio.AudioFormat, tuple[audio.RenderedAudio, Path]],
) -> None:
    result, path = rendered[fmt]
    probe = ffmpeg_probe(path)
    samples, rate = _decode(result.data)
    expected_rate = 48_000 if fmt == "opus" else 44_100
    assert (probe.codec, probe.sample_rate, probe.channels) == (CODECS[fmt], expected_rate, 2)
    assert (rate, samples.shape[1]) == (expected_rate, 2)
    assert result.media_type == ("audio/wav" if fmt == "wav" else "audio/ogg")


@pytest.mark.parametrize("fmt", audio.AUDIO_FORMATS)
def test_length_equals_the_pieces(
    fmt: audio.AudioFormat,
    rendered: dict[audio.AudioFormat, tuple[audio.RenderedAudio, Path]],
    piece_seconds: float,
) -> None:
    result, path = rendered[fmt]
    samples, rate = _decode(result.data)
    assert abs(len(samples) / rate - piece_seconds) < LENGTH_TOLERANCE
    assert abs(ffmpeg_probe(path).seconds - piece_seconds) < LENGTH_TOLERANCE


@pytest.mark.parametrize("fmt", audio.AUDIO_FORMATS)
def test_loudness_is_normalised_without_clipping(
    fmt: audio.AudioFormat,
    rendered: dict[audio.AudioFormat, tuple[audio.RenderedAudio, Path]],
) -> None:
    result, path = rendered[fmt]
    probe = ffmpeg_probe(path)
    if result.peak_limited:
        # The ceiling, not the target, set the gain: the peak sits there and it is quieter.
        assert abs(probe.true_peak_dbtp - audio.PEAK_CEILING_DBTP) <= 0.5, probe
        assert probe.lufs < audio.TARGET_LUFS + 1.0, probe
    else:
        assert abs(probe.lufs - audio.TARGET_LUFS) <= 1.0, probe
    assert probe.true_peak_dbtp < 0.0, probe
    samples, _ = _decode(result.data)
    assert float(np.abs(samples).max()) < 1.0, "a decoded sample reaches full scale"
    rms_dbfs = 10 * math.log10(float(np.mean(samples**2)))
    assert rms_dbfs > QUIET_FLOOR_DBFS, f"nearly silent: RMS {rms_dbfs:.1f} dBFS"


def test_wav_sample_peak_stays_under_the_ceiling(
    rendered: dict[audio.AudioFormat, tuple[audio.RenderedAudio, Path]],
) -> None:
    samples, _ = _decode(rendered["wav"][0].data)
    peak_dbfs = 20 * math.log10(float(np.abs(samples).max()))
    assert peak_dbfs <= audio.PEAK_CEILING_DBTP + 0.01


def test_peak_ceiling_wins_over_an_unreachable_target(midi: bytes, tmp_path: Path) -> None:
    """Asking for −6 LUFS would clip: the gain stops at −1 dBTP and the audio is quieter."""
    _require("fluidsynth", audio.INSTALL_HINT)
    result = audio.render(midi, format="wav", target_lufs=-6.0)
    path = tmp_path / "loud.wav"
    path.write_bytes(result.data)
    probe = ffmpeg_probe(path)
    assert result.peak_limited
    assert result.result.true_peak_dbtp == pytest.approx(audio.PEAK_CEILING_DBTP)
    assert -1.6 <= probe.true_peak_dbtp <= -0.5, probe
    assert probe.lufs < -7.0, probe
    samples, _ = _decode(result.data)
    assert float(np.abs(samples).max()) < 10 ** (audio.PEAK_CEILING_DBTP / 20) + 1e-4


def test_true_peak_sees_between_the_samples() -> None:
    """A sine at a quarter of the rate, sampled 45° off its crest: samples at ±0.707, peak 1.

    Faded in and out (Hann window) as music is, so the filter does not ring at the edges.
    """
    t = np.arange(4097)
    sine = (np.sin(2 * np.pi * t / 4 + np.pi / 4) * np.hanning(len(t))).astype(np.float32)
    stereo = np.stack([sine, sine], axis=1)
    assert 20 * math.log10(float(np.abs(stereo).max())) == pytest.approx(-3.01, abs=0.01)
    assert audio.true_peak_dbtp(stereo) == pytest.approx(0.0, abs=0.05)


def test_fit_length_pads_short_audio_and_fades_the_end() -> None:
    ones = np.ones((1000, 2), dtype=np.float32)
    fitted = audio.fit_length(ones, 1000, 2.0)
    assert fitted.shape == (2000, 2)
    assert not fitted[1000:].any()
    cut = audio.fit_length(ones, 1000, 0.5)
    assert cut.shape == (500, 2)
    assert cut[399, 0] == 1.0
    assert cut[-1, 0] == pytest.approx(0.0, abs=1e-6)


def test_missing_fluidsynth_names_the_packages(
    midi: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(audio.AudioToolMissingError, match="apt-get install fluidsynth") as err:
        audio.render(midi)
    assert "fluid-soundfont-gm" in str(err.value)


def test_missing_soundfont_names_the_packages(
    midi: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _require("fluidsynth", audio.INSTALL_HINT)
    missing = tmp_path / "nowhere" / "GM.sf2"
    with pytest.raises(audio.AudioToolMissingError, match="fluid-soundfont-gm"):
        audio.render(midi, soundfont=missing)
    monkeypatch.setenv(audio.SOUNDFONT_ENV, str(missing))
    with pytest.raises(audio.AudioToolMissingError, match=audio.SOUNDFONT_ENV):
        audio.render(midi)


def test_a_file_that_is_no_soundfont_fails_with_fluidsynths_words(
    midi: bytes, tmp_path: Path
) -> None:
    _require("fluidsynth", audio.INSTALL_HINT)
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"not a soundfont")
    with pytest.raises(audio.AudioRenderError, match="not a SoundFont"):
        audio.render(midi, soundfont=fake)


@pytest.mark.parametrize("data", [b"", b"not midi", b"MThd\x00\x00\x00\x06\x00\x01"])
def test_bytes_that_are_no_midi_file_are_refused_in_words(data: bytes) -> None:
    with pytest.raises(audio.AudioRenderError, match=r"cannot read the MIDI file: \w"):
        audio.render(data)


def test_format_follows_the_suffix() -> None:
    assert audio.format_for_path("a.ogg") == "ogg"
    assert audio.format_for_path(Path("b.OPUS")) == "opus"
    assert audio.format_for_path("c.wav") == "wav"
    with pytest.raises(ValueError, match=r"\.ogg \(OGG Vorbis\)"):
        audio.format_for_path("d.mp3")


def _kmidi(*args: str, path_env: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path_env is not None:
        env["PATH"] = path_env
    return subprocess.run(
        [sys.executable, "-c", CLI, "compose", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_cli_writes_midi_and_audio(tmp_path: Path) -> None:
    _require("fluidsynth", audio.INSTALL_HINT)
    mid, ogg = tmp_path / "grief.mid", tmp_path / "grief.ogg"
    proc = _kmidi(
        "I am feeling grief", "--bars", "2", "--seed", "7", "-o", str(mid), "--audio", str(ogg)
    )
    assert proc.returncode == 0, proc.stderr
    assert "rendering audio with FluidSynth" in proc.stderr
    parsed = midicsv(mid.read_bytes())
    probe = ffmpeg_probe(ogg)
    assert (probe.codec, probe.channels) == ("vorbis", 2)
    assert abs(probe.seconds - parsed.seconds(parsed.end_tick)) < LENGTH_TOLERANCE
    if "held down by the -1 dBTP peak ceiling" in proc.stderr:
        # As in test_loudness_is_normalised_without_clipping: the ceiling set the gain.
        assert abs(probe.true_peak_dbtp - audio.PEAK_CEILING_DBTP) <= 0.5, probe
        assert probe.lufs < audio.TARGET_LUFS + 1.0, probe
    else:
        assert abs(probe.lufs - audio.TARGET_LUFS) <= 1.0, probe
    reported = re.search(r"(-?\d+\.\d) LUFS", proc.stderr)
    assert reported is not None, proc.stderr
    assert abs(float(reported.group(1)) - probe.lufs) <= 0.5, (reported.group(0), probe)


def test_cli_rejects_an_unknown_audio_suffix_before_composing(tmp_path: Path) -> None:
    mp3 = tmp_path / "x.mp3"
    proc = _kmidi("I am feeling grief", "--audio", str(mp3))
    assert proc.returncode == 2
    assert ".opus (Ogg Opus)" in proc.stderr
    assert not mp3.exists()
    assert "seed:" not in proc.stderr


def test_cli_says_what_to_install_without_fluidsynth(tmp_path: Path) -> None:
    ogg = tmp_path / "x.ogg"
    proc = _kmidi("I am feeling grief", "--bars", "1", "--audio", str(ogg), path_env=str(tmp_path))
    assert proc.returncode == 1
    assert "apt-get install fluidsynth fluid-soundfont-gm" in proc.stderr
    assert not ogg.exists()
