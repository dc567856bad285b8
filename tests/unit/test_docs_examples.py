"""docs/music.md's four examples are what bench/music_examples.py prints today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_music_docs_show_what_the_code_composes() -> None:
    printed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "music_examples.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    ).stdout
    blocks = printed.strip().split("\n\n")
    assert len(blocks) == 4
    docs = (ROOT / "docs" / "music.md").read_text(encoding="utf-8")
    for block in blocks:
        # Regenerate with `.venv/bin/python bench/music_examples.py` after a change of output.
        assert f"```text\n{block}\n```" in docs, block.splitlines()[0]
