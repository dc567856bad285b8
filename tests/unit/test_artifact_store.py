"""The local artifact store: what goes in comes out, deletes and expiry reach the disk."""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from pathlib import Path
from typing import Any

import pytest

from schemas.events import Artifact
from stream_processors.artifacts import (
    ArtifactMissingError,
    ArtifactSettings,
    LocalArtifactStore,
    artifact_name,
    shard_name,
)
from stream_processors.stages.generation import store_midi

OGG = b"OggS" + bytes(range(256)) * 4
TWO_DAYS_AGO = time.time() - 2 * 86_400


def _ids_in_one_shard(count: int, *, stem: str = "req-") -> list[str]:
    """``count`` request IDs whose files share a shard directory."""
    by_shard: dict[str, list[str]] = {}
    for number in itertools.count():
        request_id = f"{stem}{number}"
        same = by_shard.setdefault(shard_name(request_id), [])
        same.append(request_id)
        if len(same) == count:
            return same
    raise AssertionError("unreachable")


def _legacy_file(root: Path, request_id: str, data: bytes, *, age: float = 0) -> Artifact:
    """A file as the store wrote them before the shards: ``<root>/<request_id>/<name>``."""
    digest = hashlib.sha256(data).hexdigest()
    path = root / request_id / artifact_name("midi", digest, ".mid")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age:
        os.utime(path, (time.time() - age, time.time() - age))
    return Artifact(
        kind="midi", media_type="audio/midi", size=len(data), sha256=digest, uri=path.as_uri()
    )


def _age(store: LocalArtifactStore, *artifacts: Artifact) -> None:
    for artifact in artifacts:
        os.utime(store.local_path(artifact), (TWO_DAYS_AGO, TWO_DAYS_AGO))


def test_put_keeps_the_bytes_under_the_request_with_their_digest(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    artifact = store.put("req-1", "audio", OGG, media_type="audio/ogg", suffix=".ogg")
    digest = hashlib.sha256(OGG).hexdigest()
    assert (artifact.kind, artifact.media_type, artifact.size, artifact.sha256) == (
        "audio",
        "audio/ogg",
        len(OGG),
        digest,
    )
    path = store.local_path(artifact)
    shard = tmp_path.resolve() / shard_name("req-1")
    assert path == shard / f"req-1@audio-{digest[:16]}.ogg"
    assert shard.name == "@" + hashlib.sha256(b"req-1").hexdigest()[:2]
    assert artifact.uri == path.as_uri()
    assert store.read(artifact) == OGG
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    assert path.stat().st_mode & 0o777 == 0o600  # as tempfile made them before


def test_the_same_bytes_twice_are_one_file(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    first = store.put("req-1", "midi", b"MThd1", media_type="audio/midi", suffix=".mid")
    again = store.put("req-1", "midi", b"MThd1", media_type="audio/midi", suffix=".mid")
    assert first == again
    assert len(list((tmp_path / shard_name("req-1")).iterdir())) == 1


def test_distinct_requests_share_the_shard_directories(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    ids = [f"req-{number}" for number in range(50)]
    for request_id in ids:
        store.put(request_id, "midi", request_id.encode(), media_type="audio/midi", suffix=".mid")
    directories = {path.name for path in tmp_path.rglob("*") if path.is_dir()}
    assert directories == {shard_name(request_id) for request_id in ids}
    assert len(directories) < len(ids)
    assert len([path for path in tmp_path.rglob("*") if path.is_file()]) == 50


def test_a_put_into_a_shard_made_before_makes_no_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _ids_in_one_shard(2)
    store = LocalArtifactStore(tmp_path)
    store.put(first, "midi", b"a", media_type="audio/midi", suffix=".mid")
    made: list[object] = []
    real_os_mkdir, real_path_mkdir = os.mkdir, Path.mkdir

    def os_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        made.append(path)
        real_os_mkdir(path, *args, **kwargs)

    def path_mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        real_path_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", os_mkdir)
    monkeypatch.setattr(Path, "mkdir", path_mkdir)
    artifact = store.put(second, "midi", b"b", media_type="audio/midi", suffix=".mid")
    assert made == []
    assert store.read(artifact) == b"b"


def test_a_shard_removed_under_a_running_store_is_made_again(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    first = store.put("req-1", "midi", b"a", media_type="audio/midi", suffix=".mid")
    store.local_path(first).unlink()
    (tmp_path / "store" / shard_name("req-1")).rmdir()
    artifact = store.put("req-1", "midi", b"b", media_type="audio/midi", suffix=".mid")
    assert store.read(artifact) == b"b"


def test_delete_request_removes_its_files_and_no_other(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    gone = store.put("req-1", "midi", b"a", media_type="audio/midi", suffix=".mid")
    store.put("req-1", "audio", b"b", media_type="audio/ogg", suffix=".ogg")
    kept = store.put("req-2", "midi", b"c", media_type="audio/midi", suffix=".mid")
    assert store.delete_request("req-1") == 2
    assert not (tmp_path / "req-1").exists()
    with pytest.raises(ArtifactMissingError, match="no longer exists"):
        store.read(gone)
    assert store.read(kept) == b"c"
    assert store.delete_request("req-1") == 0


def test_delete_request_leaves_an_id_it_prefixes_in_the_same_shard(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    short, longer = next(
        (f"r{n}", f"r{n}0")
        for n in itertools.count()
        if shard_name(f"r{n}") == shard_name(f"r{n}0")
    )
    store.put(short, "midi", b"a", media_type="audio/midi", suffix=".mid")
    kept = store.put(longer, "midi", b"b", media_type="audio/midi", suffix=".mid")
    assert store.delete_request(short) == 1
    assert store.read(kept) == b"b"


def test_files_of_the_former_layout_are_still_read_and_deleted(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    legacy = _legacy_file(tmp_path, "req-1", b"MThd-old")
    assert store.read(legacy) == b"MThd-old"
    assert store.local_path(legacy) == tmp_path.resolve() / "req-1" / legacy.uri.rsplit("/")[-1]
    store.put("req-1", "audio", b"OggS", media_type="audio/ogg", suffix=".ogg")
    assert store.delete_request("req-1") == 2  # one file in each layout
    assert not (tmp_path / "req-1").exists()
    with pytest.raises(ArtifactMissingError, match="no longer exists"):
        store.read(legacy)


def test_expiry_deletes_requests_whose_newest_file_is_older_than_the_age(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    old = store.put("old", "midi", b"a", media_type="audio/midi", suffix=".mid")
    mixed_old = store.put("mixed", "midi", b"b", media_type="audio/midi", suffix=".mid")
    mixed_new = store.put("mixed", "audio", b"c", media_type="audio/ogg", suffix=".ogg")
    _age(store, old, mixed_old)
    (tmp_path / "not a request").mkdir()
    assert store.delete_expired(86_400) == 1
    with pytest.raises(ArtifactMissingError):
        store.read(old)
    assert store.read(mixed_old) == b"b"
    assert store.read(mixed_new) == b"c"
    assert (tmp_path / "not a request").is_dir()


def test_expiry_groups_a_request_across_its_shard_and_its_former_directory(
    tmp_path: Path,
) -> None:
    store = LocalArtifactStore(tmp_path)
    gone = [_legacy_file(tmp_path, "legacy-old", b"a", age=2 * 86_400)]
    kept = [_legacy_file(tmp_path, "legacy-new", b"b")]
    both = _legacy_file(tmp_path, "both", b"c", age=2 * 86_400)
    kept += [both, store.put("both", "audio", b"d", media_type="audio/ogg", suffix=".ogg")]
    both_old = _legacy_file(tmp_path, "both-old", b"e", age=2 * 86_400)
    gone += [both_old, store.put("both-old", "audio", b"f", media_type="audio/ogg", suffix=".ogg")]
    _age(store, gone[-1])
    assert store.delete_expired(86_400) == 3
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("@")) == [
        "both",
        "legacy-new",
    ]
    for artifact in gone:
        with pytest.raises(ArtifactMissingError):
            store.read(artifact)
    assert all(store.read(artifact) for artifact in kept)


def test_expiry_leaves_foreign_files_and_deletes_stale_temporary_ones(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    store.put("req-1", "midi", b"a", media_type="audio/midi", suffix=".mid")
    shard = tmp_path / shard_name("req-1")
    foreign = [shard / "notes.txt", shard / "a b@midi.mid", tmp_path / "@zz" / "x@y"]
    foreign[-1].parent.mkdir()
    stale, fresh = shard / ".tmp-0123456789abcdef", shard / ".tmp-fedcba9876543210"
    for path in [*foreign, stale, fresh]:
        path.write_bytes(b"x")
    for path in [*foreign, stale]:
        os.utime(path, (TWO_DAYS_AGO, TWO_DAYS_AGO))
    assert store.delete_expired(86_400) == 1
    assert not stale.exists()
    assert all(path.exists() for path in [*foreign, fresh])


@pytest.mark.parametrize("request_id", ["..", ".", "a/b", "", "a@b", "x" * 65])
def test_request_ids_that_are_not_a_file_name_are_refused_and_have_nothing_to_delete(
    tmp_path: Path, request_id: str
) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    with pytest.raises(ValueError, match="not a request ID"):
        store.put(request_id, "midi", b"x", media_type="audio/midi", suffix=".mid")
    with pytest.raises(ValueError, match="not a request ID"):
        store.path_for(request_id, "midi-0.mid")
    assert store.delete_request(request_id) == 0
    assert not (tmp_path / "store").exists()


def test_a_name_with_a_slash_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a file name"):
        LocalArtifactStore(tmp_path).path_for("req-1", "../../etc/passwd")


@pytest.mark.parametrize(
    "uri",
    ["file:///etc/passwd", "s3://bucket/key", "file://{root}/../outside.mid"],
)
def test_uris_outside_the_store_are_not_served(tmp_path: Path, uri: str) -> None:
    root = tmp_path / "store"
    (tmp_path / "outside.mid").write_bytes(b"x")
    store = LocalArtifactStore(root)
    artifact = Artifact(
        kind="midi",
        media_type="audio/midi",
        size=1,
        sha256="0" * 64,
        uri=uri.format(root=root),
    )
    with pytest.raises(ArtifactMissingError):
        store.local_path(artifact)


def test_default_root_is_under_the_stack_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KMIDI_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ARTIFACTS_DIR", raising=False)
    assert ArtifactSettings().artifacts_dir == tmp_path / "artifacts"
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "elsewhere"))
    assert ArtifactSettings().artifacts_dir == tmp_path / "elsewhere"


def test_the_generation_stage_keeps_the_midi_inline_when_the_store_refuses_it() -> None:
    # ".." is a valid request ID but no directory name: the result must not fail for it.
    assert store_midi("..", b"MThd") is None
