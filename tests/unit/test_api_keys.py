"""The API keys file (``schemas.api_keys``) and the ``kmidi keys`` command, without services."""

from __future__ import annotations

import hmac
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from kmidi.cli.main import main as kmidi
from schemas.api_keys import (
    FILE_FORMAT,
    KeysFile,
    KeysFileError,
    create_key,
    hash_key,
    key_id_of,
    match_key,
    parse_keys,
    read_keys,
    revoke_key,
)


@pytest.fixture
def keys_path(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "api-keys.json"


def test_a_created_key_is_stored_as_its_hash_only(keys_path: Path) -> None:
    key, record = create_key(keys_path, "studio")
    assert key.startswith(f"kmidi_{record.id}_")
    assert key_id_of(key) == record.id
    assert len(key.split("_", 2)[2]) >= 43, "256 random bits"
    text = keys_path.read_text(encoding="utf-8")
    assert key not in text
    assert key.split("_", 2)[2] not in text, "not even the secret part"
    stored = json.loads(text)
    assert stored["format"] == FILE_FORMAT
    (entry,) = stored["keys"]
    assert entry == {
        "id": record.id,
        "name": "studio",
        "created_at": record.created_at,
        "sha256": hash_key(key),
        "revoked": False,
        "revoked_at": None,
    }
    assert read_keys(keys_path)[record.id] == record


def test_the_file_is_private_whatever_the_umask(keys_path: Path) -> None:
    previous = os.umask(0)
    try:
        create_key(keys_path, "studio")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(keys_path.stat().st_mode) == 0o600


def test_writes_replace_the_file_whole_and_leave_no_temporary_files(keys_path: Path) -> None:
    create_key(keys_path, "one")
    before = keys_path.stat().st_ino
    create_key(keys_path, "two")
    assert keys_path.stat().st_ino != before, "a new file renamed over the old one"
    leftovers = {p.name for p in keys_path.parent.iterdir()} - {
        keys_path.name,
        f"{keys_path.name}.lock",
    }
    assert leftovers == set()
    assert [r.name for r in read_keys(keys_path).values()] == ["one", "two"]


def test_concurrent_commands_lose_no_key(keys_path: Path) -> None:
    made: list[str] = []

    def create_some() -> None:
        for n in range(8):
            made.append(create_key(keys_path, f"k{n}")[1].id)

    threads = [threading.Thread(target=create_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 32
    assert set(read_keys(keys_path)) == set(made)


def test_match_accepts_the_key_and_nothing_near_it(keys_path: Path) -> None:
    key, record = create_key(keys_path, "studio")
    other, _ = create_key(keys_path, "other")
    keys = read_keys(keys_path)
    assert match_key(keys, key) == record
    prefix, key_id, secret = key.split("_", 2)
    wrong_secret = f"{prefix}_{key_id}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"
    unknown_id = f"{prefix}_{'0' * 12}_{secret}"
    other_secret = f"{prefix}_{key_id}_{other.split('_', 2)[2]}"
    for presented in (wrong_secret, unknown_id, other_secret, key + "x", "", "kmidi", key.upper()):
        assert match_key(keys, presented) is None, presented


def test_every_refusal_takes_the_constant_time_comparison(
    keys_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, _ = create_key(keys_path, "studio")
    keys = read_keys(keys_path)
    calls: list[tuple[str, str]] = []
    compare = hmac.compare_digest

    def counting(a: str, b: str) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    prefix, key_id, secret = key.split("_", 2)
    cases = {
        "right": key,
        "wrong secret": f"{prefix}_{key_id}_{'A' * len(secret)}",
        "unknown id": f"{prefix}_{'f' * 12}_{secret}",
        "malformed": "not a key at all",
    }
    for name, presented in cases.items():
        calls.clear()
        match_key(keys, presented)
        assert len(calls) == 1, name
        # Hashes of equal length are compared, never the key itself.
        ((presented_hash, stored_hash),) = calls
        assert (len(presented_hash), len(stored_hash)) == (64, 64), name


def test_revoked_keys_match_nothing_and_revoking_twice_changes_nothing(keys_path: Path) -> None:
    key, record = create_key(keys_path, "studio")
    revoked, changed = revoke_key(keys_path, record.id)
    assert changed
    assert revoked.revoked
    assert revoked.revoked_at
    assert match_key(read_keys(keys_path), key) is None
    again, changed = revoke_key(keys_path, record.id)
    assert not changed
    assert again.revoked_at == revoked.revoked_at
    with pytest.raises(KeysFileError, match="no key"):
        revoke_key(keys_path, "0" * 12)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("{", "not JSON"),
        ('{"keys": []}', "not a kmidi keys file"),
        (json.dumps({"format": FILE_FORMAT, "keys": {}}), "not a list"),
        (json.dumps({"format": FILE_FORMAT, "keys": [{"id": "abc"}]}), "has no"),
        (
            json.dumps(
                {
                    "format": FILE_FORMAT,
                    "keys": [
                        {"id": "ABC", "name": "x", "created_at": "t", "sha256": "0" * 64},
                    ],
                }
            ),
            "hex digits",
        ),
        (
            json.dumps(
                {
                    "format": FILE_FORMAT,
                    "keys": [{"id": "a" * 12, "name": "x", "created_at": "t", "sha256": "0" * 64}]
                    * 2,
                }
            ),
            "twice",
        ),
    ],
)
def test_a_broken_file_is_refused_with_a_reason(text: str, complaint: str) -> None:
    with pytest.raises(KeysFileError, match=complaint):
        parse_keys(text)


@pytest.mark.parametrize("name", ["", " padded ", "two\nlines", "x" * 65])
def test_bad_names_are_refused(keys_path: Path, name: str) -> None:
    with pytest.raises(KeysFileError, match="name"):
        create_key(keys_path, name)
    assert not keys_path.exists()


def test_a_service_sees_new_and_revoked_keys_without_restarting(keys_path: Path) -> None:
    first, record = create_key(keys_path, "first")
    live = KeysFile(keys_path)
    assert live.match(first) == record
    reloads = live.reloads
    live.keys()
    assert live.reloads == reloads, "an unchanged file is not read again"
    second, _ = create_key(keys_path, "second")
    assert live.match(second) is not None
    revoke_key(keys_path, record.id)
    assert live.match(first) is None
    assert live.reloads == reloads + 2


def test_an_edit_in_place_is_seen_too(keys_path: Path) -> None:
    key, _record = create_key(keys_path, "first")
    live = KeysFile(keys_path)
    assert live.match(key) is not None
    document = json.loads(keys_path.read_text())
    document["keys"][0]["revoked"] = True
    with keys_path.open("r+", encoding="utf-8") as handle:  # same inode
        handle.write(json.dumps(document))
        handle.truncate()
    assert live.match(key) is None


def test_a_service_refuses_to_work_without_its_file(keys_path: Path) -> None:
    with pytest.raises(KeysFileError, match="cannot read"):
        KeysFile(keys_path)
    key, _ = create_key(keys_path, "studio")
    live = KeysFile(keys_path)
    keys_path.write_text("{ broken", encoding="utf-8")
    with pytest.raises(KeysFileError, match="not JSON"):
        live.match(key)
    create_key(keys_path.with_name("other.json"), "x")  # unrelated
    keys_path.unlink()
    with pytest.raises(KeysFileError, match="cannot read"):
        live.keys()


# -------------------------------------------------------------------------- kmidi keys


def test_the_command_creates_lists_and_revokes(
    keys_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KMIDI_API_KEYS_FILE", str(keys_path))
    assert kmidi(["keys", "create", "studio"]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert out.count("\n") == 1, "the key alone on stdout"
    key_id = key_id_of(key)
    assert key_id is not None
    assert f"key {key_id} (studio)" in err
    assert "shown this once" in err
    assert kmidi(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing
    assert "studio" in listing
    assert "active" in listing
    assert key not in listing
    assert kmidi(["keys", "revoke", key_id]) == 0
    assert "revoked" in capsys.readouterr().out
    assert kmidi(["keys", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert kmidi(["keys", "revoke", "0" * 12]) == 1
    assert "no key" in capsys.readouterr().err


def test_the_command_needs_a_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KMIDI_API_KEYS_FILE", raising=False)
    assert kmidi(["keys", "create", "studio"]) == 2
    assert "KMIDI_API_KEYS_FILE" in capsys.readouterr().err
    path = tmp_path / "given.json"
    assert kmidi(["keys", "create", "studio", "--file", str(path)]) == 0
    assert len(read_keys(path)) == 1
