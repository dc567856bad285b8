"""kmidi_build_info carries the installed version, the revision given to the image, Python."""

from __future__ import annotations

import platform
import tomllib
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from service_common.build_info import build_info_gauge, build_labels

ROOT = Path(__file__).resolve().parents[2]


def test_labels_name_the_version_revision_and_python(monkeypatch: pytest.MonkeyPatch) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]
    monkeypatch.setenv("KMIDI_REVISION", "0123abc")
    assert build_labels() == {
        "version": version,
        "revision": "0123abc",
        "python": platform.python_version(),
    }
    monkeypatch.delenv("KMIDI_REVISION")
    assert build_labels()["revision"] == "unknown"


def test_the_gauge_is_registered_once_and_reads_1() -> None:
    assert build_info_gauge() is build_info_gauge()
    labels = build_labels()
    assert REGISTRY.get_sample_value("kmidi_build_info", labels) == 1.0
