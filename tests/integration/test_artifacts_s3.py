"""The S3 artifact store against a real S3-compatible server: the Versity S3 Gateway
(Apache-2.0, a POSIX back end; built by scripts/build-versitygw.sh), on 127.0.0.1.

What goes in comes out, the read-through cache holds the same bytes, deletes and expiry
reach the bucket. A missing gateway binary fails the tests with the command to build it.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest

from kmidi.cli.broker import free_port
from stream_processors.artifacts import ArtifactMissingError, ArtifactSettings, LocalArtifactStore
from stream_processors.artifacts_s3 import S3ArtifactStore

ROOT = Path(__file__).resolve().parents[2]
ACCESS, SECRET = "kmidi-test", "kmidi-test-secret-key"
OGG = b"OggS" + bytes(range(256)) * 64


def _versitygw() -> str:
    built = subprocess.run(
        [str(ROOT / "scripts" / "build-versitygw.sh")], capture_output=True, text=True
    )
    if built.returncode != 0:
        pytest.fail(
            "the Versity S3 Gateway is needed (scripts/build-versitygw.sh, which needs Go): "
            + built.stderr.strip()
        )
    return built.stdout.strip()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "versitygw exited during start-up"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"versitygw did not listen on {port} within {timeout} s")


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("versitygw")
    port = free_port()
    credentials = ["--access", ACCESS, "--secret", SECRET]
    process = subprocess.Popen(
        [_versitygw(), *credentials, "--port", f"127.0.0.1:{port}", "posix", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def store(s3_endpoint: str, tmp_path: Path) -> S3ArtifactStore:
    client: Any = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS,
        aws_secret_access_key=SECRET,
    )
    bucket = f"kmidi-{os.urandom(4).hex()}"
    client.create_bucket(Bucket=bucket)
    return S3ArtifactStore(
        client, bucket, prefix="artifacts/", cache=LocalArtifactStore(tmp_path / "cache")
    )


def _keys(store: S3ArtifactStore) -> list[str]:
    listed = store.client.list_objects_v2(Bucket=store.bucket)
    return sorted(obj["Key"] for obj in listed.get("Contents", []))


def test_put_and_read_round_trip_through_the_server(store: S3ArtifactStore) -> None:
    artifact = store.put("req-1", "audio", OGG, media_type="audio/ogg", suffix=".ogg")
    digest = hashlib.sha256(OGG).hexdigest()
    key = f"artifacts/req-1/audio-{digest[:16]}.ogg"
    assert (artifact.uri, artifact.size, artifact.sha256) == (
        f"s3://{store.bucket}/{key}",
        len(OGG),
        digest,
    )
    assert _keys(store) == [key]
    head = store.client.head_object(Bucket=store.bucket, Key=key)
    assert (head["ContentType"], head["ContentLength"]) == ("audio/ogg", len(OGG))
    assert store.read(artifact) == OGG


def test_local_path_is_a_checked_cached_copy(store: S3ArtifactStore) -> None:
    artifact = store.put("req-1", "audio", OGG, media_type="audio/ogg", suffix=".ogg")
    path = store.local_path(artifact)
    assert path.read_bytes() == OGG
    name = artifact.uri.rsplit("/", 1)[1]
    assert path == store.cache.path_for("req-1", name)  # the local store's layout
    assert store.cache.local_path(artifact.model_copy(update={"uri": path.as_uri()})) == path
    # Served from the cache once there, even if the object is gone meanwhile.
    store.client.delete_object(Bucket=store.bucket, Key=_keys(store)[0])
    assert store.local_path(artifact) == path
    path.unlink()
    with pytest.raises(ArtifactMissingError, match="no longer exists"):
        store.local_path(artifact)


def test_a_changed_object_is_not_served(store: S3ArtifactStore) -> None:
    artifact = store.put("req-1", "audio", OGG, media_type="audio/ogg", suffix=".ogg")
    store.client.put_object(Bucket=store.bucket, Key=_keys(store)[0], Body=b"tampered")
    with pytest.raises(ArtifactMissingError, match="changed"):
        store.local_path(artifact)


def test_delete_request_removes_its_objects_and_cached_files(store: S3ArtifactStore) -> None:
    audio = store.put("req-1", "audio", OGG, media_type="audio/ogg", suffix=".ogg")
    store.put("req-1", "midi", b"MThd", media_type="audio/midi", suffix=".mid")
    kept = store.put("req-10", "midi", b"MThd10", media_type="audio/midi", suffix=".mid")
    cached = store.local_path(audio)
    assert store.delete_request("req-1") == 2
    assert [key.split("/")[1] for key in _keys(store)] == ["req-10"]
    assert not cached.exists()
    assert store.read(kept) == b"MThd10"


def test_expiry_deletes_only_requests_older_than_the_age(store: S3ArtifactStore) -> None:
    store.put("req-1", "midi", b"MThd", media_type="audio/midi", suffix=".mid")
    assert store.delete_expired(3600) == 0
    assert store.delete_expired(-60) == 1  # a cut-off in the future: everything is older
    assert _keys(store) == []


def test_uris_of_another_bucket_are_refused(store: S3ArtifactStore) -> None:
    artifact = store.put("req-1", "midi", b"MThd", media_type="audio/midi", suffix=".mid")
    other = artifact.model_copy(update={"uri": artifact.uri.replace(store.bucket, "other")})
    with pytest.raises(ArtifactMissingError, match="not in this store"):
        store.read(other)


@pytest.mark.parametrize("request_id", ["..", ".", "a/b", "a@b"])
def test_request_ids_that_are_not_a_file_name_are_refused(
    store: S3ArtifactStore, request_id: str
) -> None:
    with pytest.raises(ValueError, match="not a request ID"):
        store.put(request_id, "midi", b"MThd", media_type="audio/midi", suffix=".mid")
    assert store.delete_request(request_id) == 0
    assert _keys(store) == []


def test_the_settings_select_the_s3_store(
    store: S3ArtifactStore, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    settings = ArtifactSettings(
        artifact_store="s3",
        s3_endpoint_url=s3_endpoint,
        s3_bucket=store.bucket,
        s3_prefix="p/",
        artifacts_dir=tmp_path / "cache",
    )
    configured = S3ArtifactStore.from_settings(settings)
    artifact = configured.put("req-2", "midi", b"MThd2", media_type="audio/midi", suffix=".mid")
    assert artifact.uri.startswith(f"s3://{store.bucket}/p/req-2/midi-")
    assert store.client.get_object(Bucket=store.bucket, Key=_keys(store)[0])["Body"].read() == (
        b"MThd2"
    )
    with pytest.raises(ValueError, match="S3_BUCKET"):
        S3ArtifactStore.from_settings(ArtifactSettings(artifact_store="s3"))
