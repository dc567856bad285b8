"""The S3-compatible artifact store: objects ``<prefix><request_id>/<name>`` in one bucket.

The stages write objects; the results service serves files from a local read-through
cache (``ARTIFACTS_DIR``, laid out as the local store's files, ``LocalArtifactStore.path_for``),
so HTTP Range and ETag handling stay Starlette's ``FileResponse`` whatever the store.
Credentials come the way boto3 looks for them (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, a profile, an instance role).
Tested against the Versity S3 Gateway, a real S3 server (tests/integration/test_artifacts_s3.py).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from schemas.events import Artifact, ArtifactKind
from stream_processors.artifacts import (
    ArtifactMissingError,
    ArtifactSettings,
    LocalArtifactStore,
    artifact_name,
    check_request_id,
)

_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys


class S3ArtifactStore:
    """Artifacts as objects in ``bucket``; URIs are ``s3://bucket/key``."""

    def __init__(self, client: Any, bucket: str, *, prefix: str, cache: LocalArtifactStore) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.cache = cache

    @classmethod
    def from_settings(cls, settings: ArtifactSettings) -> S3ArtifactStore:
        if not settings.s3_bucket:
            raise ValueError("ARTIFACT_STORE=s3 needs S3_BUCKET")
        client = boto3.client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region
        )
        cache = LocalArtifactStore(settings.artifacts_dir)
        return cls(client, settings.s3_bucket, prefix=settings.s3_prefix, cache=cache)

    def _request_prefix(self, request_id: str) -> str:
        return f"{self.prefix}{check_request_id(request_id)}/"

    def put(
        self, request_id: str, kind: ArtifactKind, data: bytes, *, media_type: str, suffix: str
    ) -> Artifact:
        digest = hashlib.sha256(data).hexdigest()
        key = self._request_prefix(request_id) + artifact_name(kind, digest, suffix)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=media_type)
        return Artifact(
            kind=kind,
            media_type=media_type,
            size=len(data),
            sha256=digest,
            uri=f"s3://{self.bucket}/{key}",
        )

    def _key(self, artifact: Artifact) -> str:
        head = f"s3://{self.bucket}/{self.prefix}"
        if not artifact.uri.startswith(head):
            raise ArtifactMissingError(f"{artifact.uri} is not in this store ({head})")
        return artifact.uri.removeprefix(f"s3://{self.bucket}/")

    def read(self, artifact: Artifact) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(artifact))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING_CODES:
                raise ArtifactMissingError(f"{artifact.uri} no longer exists") from exc
            raise
        data: bytes = answer["Body"].read()
        return data

    def local_path(self, artifact: Artifact) -> Path:
        """The cached copy, downloaded (and checked against its SHA-256) on first use."""
        request_id, name = PurePosixPath(self._key(artifact)).parts[-2:]
        cached = self.cache.path_for(request_id, name)
        if not cached.is_file():
            data = self.read(artifact)
            if hashlib.sha256(data).hexdigest() != artifact.sha256:
                raise ArtifactMissingError(f"{artifact.uri} changed since it was listed")
            suffix = PurePosixPath(name).suffix
            self.cache.put(
                request_id, artifact.kind, data, media_type=artifact.media_type, suffix=suffix
            )
        return cached

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            yield from page.get("Contents", [])

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start : start + _DELETE_BATCH]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})

    def delete_request(self, request_id: str) -> int:
        try:
            prefix = self._request_prefix(request_id)
        except ValueError:
            return 0  # nothing can be kept under an ID that is no file name
        keys = [obj["Key"] for obj in self._objects(prefix)]
        self._delete_keys(keys)
        self.cache.delete_request(request_id)
        return len(keys)

    def delete_expired(self, max_age_seconds: float) -> int:
        """Objects of requests whose newest object is older than ``max_age_seconds``.

        A bucket lifecycle rule does the same without listing; this keeps one setting.
        """
        cutoff = time.time() - max_age_seconds
        by_request: dict[str, list[dict[str, Any]]] = {}
        for obj in self._objects(self.prefix):
            request_id = obj["Key"].removeprefix(self.prefix).split("/", 1)[0]
            by_request.setdefault(request_id, []).append(obj)
        expired = [
            obj["Key"]
            for objects in by_request.values()
            if all(obj["LastModified"].timestamp() < cutoff for obj in objects)
            for obj in objects
        ]
        self._delete_keys(expired)
        self.cache.delete_expired(max_age_seconds)
        return len(expired)
