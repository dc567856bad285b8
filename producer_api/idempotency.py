"""``Idempotency-Key`` on ``POST /v1/generate``: the first request with a key wins.

The same key with the same body within the retention (24 h by default) answers with the
first request's 202 (same request ID, same URLs) and publishes nothing; the same key with
another body gets 422 ``idempotency_key_reused``; a retry that arrives while the first is
still being published gets 409 ``idempotency_key_in_use`` with ``Retry-After``.

The keys live in one SQLite file (WAL mode, stdlib ``sqlite3``) that every ingress process
of a host shares: ``API_WORKERS`` uvicorn processes are separate address spaces, so a
per-process cache would let a retry that lands on another process publish again. SQLite
was chosen over a new Kafka topic or a new service: the claim is one ``INSERT OR IGNORE``
(first writer wins, across processes) plus one ``SELECT``, about 0.1 ms, and nothing else
to run. Ingress replicas on different hosts do not share it: ``IDEMPOTENCY_STORE=kafka``
(idempotency_kafka.py) keeps the claims on a topic every replica reads. The body
fingerprint is SHA-256 over the validated body's canonical JSON.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

from producer_api.core.config import Settings
from service_common.http import ApiError

log = logging.getLogger(__name__)

MAX_KEY_CHARS = 255
_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    request_id TEXT NOT NULL,
    created REAL NOT NULL,
    response BLOB
)
"""
_EXPIRE_EVERY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Claim:
    """Who holds a key: its first request, and that request's 202 once published."""

    request_id: str
    fingerprint: str
    response: bytes | None
    fresh: bool
    """This request took the key just now (it publishes); else it is a retry."""


class ClaimStore(Protocol):
    """What the route needs of a store: this file's SQLite one, or the Kafka one that
    every ingress replica shares (``IDEMPOTENCY_STORE=kafka``, idempotency_kafka.py)."""

    async def claim(self, key: str, fingerprint: str, request_id: str) -> Claim: ...

    async def complete(self, key: str, request_id: str, response: bytes) -> None: ...

    async def release(self, key: str, request_id: str) -> None: ...


def fingerprint(body: BaseModel) -> str:
    """SHA-256 of the validated body's JSON: the same request, however it was spaced."""
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def check_key(key: str) -> str:
    """The key as given, or 422 ``invalid_idempotency_key``."""
    if not 1 <= len(key) <= MAX_KEY_CHARS or not key.isascii() or not key.isprintable():
        raise ApiError(
            422,
            "invalid_idempotency_key",
            f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} printable ASCII characters",
        )
    return key


class IdempotencyStore:
    """Keys claimed by the ingress processes of one host (one SQLite file)."""

    def __init__(self, path: Path, *, retention_seconds: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Used from the thread pool, one call at a time (the lock below).
        self._db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._retention = retention_seconds
        self._expired_at = 0.0
        self._lock = asyncio.Lock()  # one connection, used from one thread at a time

    def close(self) -> None:
        self._db.close()

    async def claim(self, key: str, fingerprint: str, request_id: str) -> Claim:
        """Take ``key`` for ``request_id`` unless a live claim holds it; the holder."""
        async with self._lock:
            return await asyncio.to_thread(self._claim, key, fingerprint, request_id)

    async def complete(self, key: str, request_id: str, response: bytes) -> None:
        """Record the 202 a claim's request answered, for its retries."""
        async with self._lock:
            await asyncio.to_thread(
                self._db.execute,
                "UPDATE idempotency SET response = ? WHERE key = ? AND request_id = ?",
                (response, key, request_id),
            )

    async def release(self, key: str, request_id: str) -> None:
        """Forget a claim whose request failed, so a retry can publish."""
        async with self._lock:
            await asyncio.to_thread(
                self._db.execute,
                "DELETE FROM idempotency WHERE key = ? AND request_id = ? AND response IS NULL",
                (key, request_id),
            )

    def _claim(self, key: str, fingerprint: str, request_id: str) -> Claim:
        now = time.time()
        oldest = now - self._retention
        if now - self._expired_at >= _EXPIRE_EVERY_SECONDS:
            self._db.execute("DELETE FROM idempotency WHERE created < ?", (oldest,))
            self._expired_at = now
        else:  # the bulk sweep is once a minute; this key's own expiry is exact
            self._db.execute("DELETE FROM idempotency WHERE key = ? AND created < ?", (key, oldest))
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO idempotency (key, fingerprint, request_id, created) "
            "VALUES (?, ?, ?, ?)",
            (key, fingerprint, request_id, now),
        ).rowcount
        row = self._db.execute(
            "SELECT request_id, fingerprint, response FROM idempotency WHERE key = ?", (key,)
        ).fetchone()
        return Claim(str(row[0]), str(row[1]), row[2], fresh=inserted == 1)


def open_idempotency_store(settings: Settings) -> IdempotencyStore | None:
    """The host's store, or None (logged) when its file cannot be opened: requests without
    a key are served as usual, and a key gets 503 ``idempotency_unavailable``."""
    path = settings.idempotency_path
    try:
        return IdempotencyStore(path, retention_seconds=settings.idempotency_retention_seconds)
    except (OSError, sqlite3.Error) as exc:
        log.error(
            "Idempotency-Key store unavailable; set IDEMPOTENCY_DB to a writable file",
            extra={"path": str(path), "error": str(exc)},
        )
        return None


def require_store(store: ClaimStore | None) -> ClaimStore:
    """The store, or 503 for a request that sent a key the host cannot keep."""
    if store is None:
        raise ApiError(
            503,
            "idempotency_unavailable",
            "this ingress cannot keep Idempotency-Keys (its IDEMPOTENCY_DB is not writable); "
            "retry without the header or on another host",
            headers={"Retry-After": "30"},
        )
    return store


def replay_or_refuse(claim: Claim, fingerprint: str) -> bytes:
    """The first request's 202 body for a retry, or the error that refuses it."""
    if claim.fingerprint != fingerprint:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different body; use a new key for a new "
            f"request (the first one is {claim.request_id})",
        )
    if claim.response is None:
        raise ApiError(
            409,
            "idempotency_key_in_use",
            f"the first request with this Idempotency-Key ({claim.request_id}) is still being "
            "published; retry shortly",
            headers={"Retry-After": "1"},
        )
    return claim.response


__all__ = [
    "MAX_KEY_CHARS",
    "Claim",
    "ClaimStore",
    "IdempotencyStore",
    "check_key",
    "fingerprint",
    "open_idempotency_store",
    "replay_or_refuse",
    "require_store",
]
