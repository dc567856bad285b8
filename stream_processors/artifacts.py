"""The artifact store: files made for requests (MIDI, audio), kept out of Kafka.

Results name their files by ``Artifact`` (kind, media type, size, SHA-256, URI); the bytes
live here. One interface, ``ArtifactStore``; one implementation, ``LocalArtifactStore``:
a directory tree ``<root>/<request_id>/<kind>-<sha256[:16]><suffix>`` on a disk the stages
and the results service share (``kmidi up``: one machine; elsewhere a shared volume).
``ARTIFACT_STORE=s3`` selects ``stream_processors.artifacts_s3.S3ArtifactStore`` instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Protocol
from urllib.parse import unquote, urlparse

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from kmidi.cli.broker import stack_data_dir
from schemas.events import Artifact, ArtifactKind
from schemas.headers import is_valid_request_id

log = logging.getLogger(__name__)

_SECONDS_PER_DAY = 86_400


class ArtifactMissingError(LookupError):
    """The artifact's file is not in the store (deleted, expired, or another store's)."""


class ArtifactSettings(BaseSettings):
    """Where artifacts live and for how long; read by the stages and the results service."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    artifacts_dir: Path = Field(
        default_factory=lambda: stack_data_dir() / "artifacts",
        description="Root of the local artifact store (default: kmidi up's data dir).",
    )
    artifact_retention_days: Annotated[float, Field(ge=0)] = Field(
        default=30.0,
        description="A request's files are deleted this long after they were last "
        "written; 0 keeps them forever.",
    )
    artifact_sweep_interval_seconds: Annotated[float, Field(gt=0)] = Field(
        default=3600.0, description="How often the results service deletes expired files."
    )
    inline_midi_max_bytes: Annotated[int, Field(ge=0, le=1024 * 1024)] = Field(
        default=256 * 1024,
        description="MIDI up to this size also travels inline (midi_base64) in the result.",
    )
    artifact_store: Literal["local", "s3"] = Field(
        default="local",
        description="local: files under artifacts_dir. s3: objects in s3_bucket, with "
        "artifacts_dir as the results service's read-through cache.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="Of an S3-compatible server; unset means AWS S3."
    )
    s3_bucket: str = ""
    s3_prefix: str = Field(default="", description="Prepended to every object key.")
    s3_region: str = "us-east-1"


class ArtifactStore(Protocol):
    """What the stages and the results service need of a store."""

    def put(
        self, request_id: str, kind: ArtifactKind, data: bytes, *, media_type: str, suffix: str
    ) -> Artifact:
        """Keep ``data``; the same bytes for the same request give the same artifact."""

    def read(self, artifact: Artifact) -> bytes:
        """The artifact's bytes; ``ArtifactMissingError`` when they are gone."""

    def local_path(self, artifact: Artifact) -> Path:
        """A file on this machine holding the bytes (served with Range support)."""

    def delete_request(self, request_id: str) -> int:
        """Delete every file of the request; how many there were."""

    def delete_expired(self, max_age_seconds: float) -> int:
        """Delete requests whose files were all written more than ``max_age_seconds`` ago."""


class LocalArtifactStore:
    """Artifacts as files under ``root``; URIs are ``file://`` URIs of those files."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()

    def request_dir(self, request_id: str) -> Path:
        """The request's directory; ``ValueError`` for an ID that is no directory name."""
        # "." and ".." match the request ID pattern but must never become a path.
        if not is_valid_request_id(request_id) or request_id in (".", ".."):
            raise ValueError(f"not a request ID usable as a directory: {request_id!r}")
        return self.root / request_id

    def put(
        self, request_id: str, kind: ArtifactKind, data: bytes, *, media_type: str, suffix: str
    ) -> Artifact:
        digest = hashlib.sha256(data).hexdigest()
        directory = self.request_dir(request_id)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / artifact_name(kind, digest, suffix)
        # Written aside and renamed: a reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".tmp-", delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)
        return Artifact(
            kind=kind, media_type=media_type, size=len(data), sha256=digest, uri=path.as_uri()
        )

    def local_path(self, artifact: Artifact) -> Path:
        parsed = urlparse(artifact.uri)
        if parsed.scheme != "file":
            raise ArtifactMissingError(f"{artifact.uri} is not in a local store")
        path = Path(unquote(parsed.path)).resolve()
        if not path.is_relative_to(self.root):
            raise ArtifactMissingError(f"{artifact.uri} is outside this store ({self.root})")
        if not path.is_file():
            raise ArtifactMissingError(f"{artifact.uri} no longer exists")
        return path

    def read(self, artifact: Artifact) -> bytes:
        return self.local_path(artifact).read_bytes()

    def delete_request(self, request_id: str) -> int:
        try:
            directory = self.request_dir(request_id)
        except ValueError:
            return 0  # nothing can be kept under an ID that is no directory name
        if not directory.is_dir():
            return 0
        count = sum(1 for path in directory.iterdir() if path.is_file())
        shutil.rmtree(directory, ignore_errors=True)
        return count

    def delete_expired(self, max_age_seconds: float) -> int:
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - max_age_seconds
        deleted = 0
        for directory in self.root.iterdir():
            if not directory.is_dir() or not is_valid_request_id(directory.name):
                continue  # not ours: left alone
            files = [path for path in directory.iterdir() if path.is_file()]
            if all(path.stat().st_mtime < cutoff for path in files):
                deleted += self.delete_request(directory.name)
        return deleted


@lru_cache(maxsize=1)
def get_artifact_settings() -> ArtifactSettings:
    """The process-wide artifact settings, read from the environment once."""
    return ArtifactSettings()


def artifact_name(kind: ArtifactKind, digest: str, suffix: str) -> str:
    """A file's name in its request's directory (or key prefix): the same bytes, one name."""
    return f"{kind}-{digest[:16]}{suffix}"


@lru_cache(maxsize=1)
def get_artifact_store() -> ArtifactStore:
    """The process-wide store, as the settings say."""
    settings = get_artifact_settings()
    if settings.artifact_store == "s3":
        # Imported here: boto3 takes a while to load and only an S3 deployment needs it.
        from stream_processors.artifacts_s3 import S3ArtifactStore

        return S3ArtifactStore.from_settings(settings)
    return LocalArtifactStore(settings.artifacts_dir)


async def expire_forever(store: ArtifactStore, settings: ArtifactSettings) -> None:
    """Delete expired requests' files every ``artifact_sweep_interval_seconds``, forever."""
    if settings.artifact_retention_days == 0:
        return
    max_age = settings.artifact_retention_days * _SECONDS_PER_DAY
    while True:
        try:
            removed = await asyncio.to_thread(store.delete_expired, max_age)
        except OSError as exc:  # a disk hiccup must not end the sweeping
            log.warning("artifact expiry failed: %r", exc)
        else:
            if removed:
                log.info("expired artifacts deleted", extra={"files_removed": removed})
        await asyncio.sleep(settings.artifact_sweep_interval_seconds)
