"""Start-up does not build the lexicon nor load the trained reader: `kmidi --help` and the
ingress load without them."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("module", ["kmidi.cli.main", "producer_api.main", "kmidi"])
def test_importing_does_not_build_the_lexicon(module: str) -> None:
    probe = f"import sys, {module}; print('kmidi.lexicon' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert out == "False", f"importing {module} builds the lexicon"


def test_importing_the_analyser_does_not_load_the_trained_reader() -> None:
    probe = (
        "import kmidi.affect, kmidi.affect_model as m; "
        "print(m.packaged_reader.cache_info().currsize); "
        "kmidi.affect.analyse_text('the kettle is on'); "
        "print(m.packaged_reader.cache_info().currsize)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["0", "1"], out  # loaded by the first reading, not by the import


def test_the_package_still_offers_its_api() -> None:
    import kmidi

    # The submodule of the same name, once imported, must not shadow the function.
    module = importlib.import_module("kmidi.compose")
    assert callable(kmidi.compose)
    assert kmidi.compose is module.compose
    assert kmidi.analyse_text("I am feeling grief").primary == "grief"
    with pytest.raises(AttributeError, match="no attribute"):
        _ = kmidi.not_a_name


def test_python_m_kmidi_is_the_kmidi_command() -> None:
    script = Path(sys.executable).parent / "kmidi"
    assert script.is_file(), f"the kmidi console script is not installed beside {sys.executable}"
    runs = [
        subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        for command in ([sys.executable, "-m", "kmidi", "--help"], [str(script), "--help"])
    ]
    assert [run.returncode for run in runs] == [0, 0], [run.stderr for run in runs]
    assert runs[0].stdout.startswith("usage: kmidi ")
    assert runs[0].stdout == runs[1].stdout
