"""The local artifact store: what goes in comes out, deletes and expiry reach the disk."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from schemas.events import Artifact
from stream_processors.artifacts import (
    ArtifactMissingError,
    ArtifactSettings,
    LocalArtifactStore,
)
from stream_processors.stages.generation import store_midi

OGG = b"OggS" + bytes(range(256)) * 4


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
    assert path == tmp_path.resolve() / "req-1" / f"audio-{digest[:16]}.ogg"
    assert artifact.uri == path.as_uri()
    assert store.read(artifact) == OGG
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_the_same_bytes_twice_are_one_file(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    first = store.put("req-1", "midi", b"MThd1", media_type="audio/midi", suffix=".mid")
    again = store.put("req-1", "midi", b"MThd1", media_type="audio/midi", suffix=".mid")
    assert first == again
    assert len(list((tmp_path / "req-1").iterdir())) == 1


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


def test_expiry_deletes_requests_whose_newest_file_is_older_than_the_age(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    old = store.put("old", "midi", b"a", media_type="audio/midi", suffix=".mid")
    mixed_old = store.put("mixed", "midi", b"b", media_type="audio/midi", suffix=".mid")
    store.put("mixed", "audio", b"c", media_type="audio/ogg", suffix=".ogg")
    two_days_ago = time.time() - 2 * 86_400
    for artifact in (old, mixed_old):
        os.utime(store.local_path(artifact), (two_days_ago, two_days_ago))
    (tmp_path / "not a request").mkdir()
    assert store.delete_expired(86_400) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed", "not a request"]


@pytest.mark.parametrize("request_id", ["..", ".", "a/b", ""])
def test_request_ids_that_are_not_a_directory_name_are_refused_and_have_nothing_to_delete(
    tmp_path: Path, request_id: str
) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    with pytest.raises(ValueError, match="not a request ID"):
        store.put(request_id, "midi", b"x", media_type="audio/midi", suffix=".mid")
    assert store.delete_request(request_id) == 0


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
