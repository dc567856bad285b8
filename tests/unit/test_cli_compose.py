"""``kmidi compose``: refused wishes, the default output, and the JSON document's targets."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import pytest

from kmidi.cli.main import main
from kmidi.compose import MAX_SEED

TEXT = "I am feeling grief"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bars", "0"], "kmidi compose: technical.length_bars: Input should be greater"),
        (["--seed", "-1"], f"kmidi compose: --seed must be in 0..{MAX_SEED}"),
        (["--key", "H minor"], 'kmidi compose: invalid_key: key "H minor" not understood'),
    ],
)
def test_a_wish_that_cannot_be_honoured_exits_2_and_writes_nothing(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["compose", TEXT, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert "seed:" not in err
    assert list(tmp_path.iterdir()) == []


def test_without_outputs_the_midi_goes_to_a_file_named_after_the_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["compose", TEXT, "--bars", "2", "--seed", "7"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("seed: 7\nwrote kmidi-7.mid: grief, ")
    assert [p.name for p in tmp_path.iterdir()] == ["kmidi-7.mid"]
    assert mido.MidiFile(tmp_path / "kmidi-7.mid").length > 0


def test_the_document_goes_to_stdout_or_a_file_alone_or_with_the_midi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["compose", TEXT, "--bars", "2", "--seed", "7", "--json", "-"]) == 0
    printed = capsys.readouterr()
    assert printed.err == "seed: 7\n"
    assert json.loads(printed.out)["seed"] == 7
    assert list(tmp_path.iterdir()) == []

    midi, document = tmp_path / "a.mid", tmp_path / "a.json"
    argv = ["compose", TEXT, "--bars", "2", "--seed", "7", "-o", str(midi), "--json"]
    assert main([*argv, str(document)]) == 0
    assert capsys.readouterr().out == ""
    assert document.read_text(encoding="utf-8") == printed.out
    assert mido.MidiFile(midi).length > 0
