"""The lines `kmidi up` prints once the stack is up: the addresses, and an example that
works as printed (with the key's header when the services require API keys)."""

from __future__ import annotations

import pytest

from kmidi.cli.stack import Service, _print_banner


def _services(**ingress_env: str) -> list[Service]:
    return [
        Service("ingress", ["x"], {"API_PORT": "8000", **ingress_env}),
        Service("results", ["x"], {"RESULTS_PORT": "8001"}),
        Service("worker-1", ["x"], {"WORKER_METRICS_PORT": "9100"}),
    ]


def test_the_banner_names_every_address(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KMIDI_API_KEYS_FILE", raising=False)
    _print_banner(_services(), "127.0.0.1:9092", None)
    out = capsys.readouterr().out
    assert "kmidi is up" in out
    for address in ("127.0.0.1:8000/", "127.0.0.1:8001", "127.0.0.1:9100/metrics", "9092"):
        assert address in out
    assert "Authorization" not in out


def test_with_api_keys_the_example_sends_the_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KMIDI_API_KEYS_FILE", raising=False)
    _print_banner(_services(KMIDI_API_KEYS_FILE="/etc/kmidi/keys.json"), "127.0.0.1:9092", None)
    out = capsys.readouterr().out
    assert "kmidi keys create NAME" in out
    [curl] = [line for line in out.splitlines() if "curl" in line]
    assert "Authorization: Bearer $KMIDI_API_KEY" in curl
