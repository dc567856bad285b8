"""Run a Python snippet in a fresh interpreter and read what it prints (or the JSON report
it prints last).

For tests that must see a process from its start (what an import loads, what a service
configures at start-up) without this test process's modules and settings in the way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def child_output(
    code: str, *args: str, env: Mapping[str, str] | None = None, what: str = "the child"
) -> str:
    """Run ``python -c code args`` in the repository root; what it printed. Fails the test
    with the child's stderr when it exits non-zero."""
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{what} failed:\n{result.stderr}"
    return result.stdout


def child_report(
    code: str, *args: str, env: Mapping[str, str] | None = None, what: str = "the child"
) -> Any:
    """``child_output``'s last line, read as the JSON object it is."""
    return json.loads(child_output(code, *args, env=env, what=what).strip().splitlines()[-1])
