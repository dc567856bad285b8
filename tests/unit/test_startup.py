"""Start-up does not build the lexicon: `kmidi --help` and the ingress load without it."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["kmidi.cli.main", "producer_api.main", "kmidi"])
def test_importing_does_not_build_the_lexicon(module: str) -> None:
    probe = f"import sys, {module}; print('kmidi.lexicon' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert out == "False", f"importing {module} builds the lexicon"


def test_the_package_still_offers_its_api() -> None:
    import kmidi

    # The submodule of the same name, once imported, must not shadow the function.
    module = importlib.import_module("kmidi.compose")
    assert callable(kmidi.compose)
    assert kmidi.compose is module.compose
    assert kmidi.analyse_text("I am feeling grief").primary == "grief"
    with pytest.raises(AttributeError, match="no attribute"):
        _ = kmidi.not_a_name
