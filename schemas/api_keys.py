"""API keys of the HTTP services: the ``kmidi_<id>_<secret>`` format and the keys file.

The ``kmidi keys`` command writes the file and the ingress and results services read it,
so its format lives here: ``kmidi`` may import ``schemas`` and so may every service, and
importing anything from ``kmidi`` would load the music engine into the results service.
Standard library only.

A key is ``kmidi_<id>_<secret>``: ``id`` is 12 hex digits, public (it names the key in
``kmidi keys list``, in logs and on Kafka records); ``secret`` is 32 random bytes from
:mod:`secrets` (43 URL-safe characters). The file stores, per key, its id, name, creation
time, revoked flag and SHA-256 of the whole key, never the key. A service looks the key
up by its id and compares hashes with :func:`hmac.compare_digest`.

SHA-256 and not bcrypt/scrypt/argon2: those slow hashes exist to make guessing a
low-entropy *password* from a stolen hash expensive. A kmidi key is 256 random bits, which
no guessing reaches whatever the hash costs, and a service checks it on every request,
where a deliberately slow hash (tens of milliseconds of CPU) would be the bottleneck.

The file (JSON, mode 0600) is written atomically, a temporary file renamed over it, under
an advisory lock (``<file>.lock``) so that two ``kmidi keys`` commands never lose an
update. A service re-reads it when its ``stat`` changes (:class:`KeysFile`), so a revoked
key stops working with the next request, without a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

FILE_FORMAT: Final = "kmidi.api-keys.v1"
KEY_PREFIX: Final = "kmidi"
KEY_ID_HEX_DIGITS: Final = 12
SECRET_BYTES: Final = 32
KEY_ID_PATTERN: Final = re.compile(rf"^[0-9a-f]{{{KEY_ID_HEX_DIGITS}}}$")
"""A key's public id: also the value of the ``kmidi-api-key-id`` Kafka header."""
_KEY_PATTERN: Final = re.compile(
    rf"^{KEY_PREFIX}_([0-9a-f]{{{KEY_ID_HEX_DIGITS}}})_([A-Za-z0-9_-]{{32,128}})$"
)
MAX_NAME_CHARS: Final = 64
FILE_MODE: Final = 0o600
_DUMMY_HASH: Final = hashlib.sha256(b"no such key").hexdigest()


class KeysFileError(RuntimeError):
    """The keys file cannot be read, is not a kmidi keys file, or a change is refused."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One key as the file keeps it: everything but the key itself."""

    id: str
    name: str
    created_at: str
    """ISO 8601, UTC."""
    sha256: str
    """Hex SHA-256 of the whole key (``kmidi_<id>_<secret>``)."""
    revoked: bool = False
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return not self.revoked


def hash_key(key: str) -> str:
    """The hex SHA-256 the file stores for ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id_of(key: str) -> str | None:
    """The id part of a well-formed key; None for anything else."""
    match = _KEY_PATTERN.fullmatch(key)
    return match.group(1) if match else None


def is_key_id(value: str | None) -> bool:
    """Whether ``value`` has the shape of a key id (for headers read from Kafka)."""
    return value is not None and KEY_ID_PATTERN.fullmatch(value) is not None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def check_name(name: str) -> str:
    """A key name as given, or ``KeysFileError``: 1-64 printable characters."""
    if not 1 <= len(name) <= MAX_NAME_CHARS or not name.isprintable() or name != name.strip():
        raise KeysFileError(
            f"a key name is 1 to {MAX_NAME_CHARS} printable characters without "
            "leading or trailing spaces"
        )
    return name


def new_key(name: str, *, taken: Collection[str] = ()) -> tuple[str, ApiKey]:
    """A fresh key and its record; the id is not one of ``taken``."""
    check_name(name)
    while True:
        key_id = secrets.token_hex(KEY_ID_HEX_DIGITS // 2)
        if key_id not in taken:
            break
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
    return key, ApiKey(id=key_id, name=name, created_at=_now(), sha256=hash_key(key))


def match_key(keys: Mapping[str, ApiKey], presented: str) -> ApiKey | None:
    """The active key ``presented`` is, or None.

    Looked up by its public id, then its hash compared in constant time. An unknown id or
    a malformed key is still hashed and compared (against a dummy), so the answer takes
    about as long whatever was wrong with it.
    """
    key_id = key_id_of(presented)
    record = keys.get(key_id) if key_id is not None else None
    expected = record.sha256 if record is not None else _DUMMY_HASH
    same = hmac.compare_digest(hash_key(presented), expected)
    if record is None or not same or record.revoked:
        return None
    return record


# -------------------------------------------------------------------------- the file


def _record(item: object, index: int) -> ApiKey:
    if not isinstance(item, dict):
        raise KeysFileError(f"keys[{index}] is not an object")
    try:
        record = ApiKey(
            id=str(item["id"]),
            name=str(item["name"]),
            created_at=str(item["created_at"]),
            sha256=str(item["sha256"]),
            revoked=bool(item.get("revoked", False)),
            revoked_at=None if item.get("revoked_at") is None else str(item["revoked_at"]),
        )
    except KeyError as exc:
        raise KeysFileError(f"keys[{index}] has no {exc.args[0]!r}") from exc
    if not is_key_id(record.id):
        raise KeysFileError(
            f"keys[{index}]: id {record.id!r} is not {KEY_ID_HEX_DIGITS} hex digits"
        )
    if re.fullmatch(r"[0-9a-f]{64}", record.sha256) is None:
        raise KeysFileError(f"keys[{index}]: sha256 is not 64 hex digits")
    return record


def parse_keys(text: str) -> dict[str, ApiKey]:
    """The keys of a keys file's text, by id; ``KeysFileError`` when it is not one."""
    try:
        document: Any = json.loads(text)
    except ValueError as exc:
        raise KeysFileError(f"not JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise KeysFileError(f'not a kmidi keys file (no "format": "{FILE_FORMAT}")')
    items = document.get("keys")
    if not isinstance(items, list):
        raise KeysFileError('"keys" is not a list')
    keys: dict[str, ApiKey] = {}
    for index, item in enumerate(items):
        record = _record(item, index)
        if record.id in keys:
            raise KeysFileError(f"key id {record.id} appears twice")
        keys[record.id] = record
    return keys


def read_keys(path: Path) -> dict[str, ApiKey]:
    """The keys in ``path`` by id; an absent file has none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise KeysFileError(f"cannot read {path}: {exc}") from exc
    try:
        return parse_keys(text)
    except KeysFileError as exc:
        raise KeysFileError(f"{path}: {exc}") from exc


def render_keys(keys: Mapping[str, ApiKey]) -> str:
    """The file's text: keys in creation order, one object each."""
    document = {"format": FILE_FORMAT, "keys": [asdict(record) for record in keys.values()]}
    return json.dumps(document, indent=2) + "\n"


def write_keys(path: Path, keys: Mapping[str, ApiKey]) -> None:
    """Replace ``path`` atomically with ``keys``: a 0600 temporary file, fsynced, renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file with mode 0600 before anything is written to it.
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(render_keys(keys))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(staging, FILE_MODE)
        os.replace(staging, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staging)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock for a read-modify-write of ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(path.with_name(f"{path.name}.lock"), os.O_CREAT | os.O_RDWR, FILE_MODE)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)  # closing releases the lock


def create_key(path: Path, name: str) -> tuple[str, ApiKey]:
    """Add a new key named ``name`` to ``path``; the key (shown once) and its record."""
    with locked(path):
        keys = read_keys(path)
        key, record = new_key(name, taken=keys)
        write_keys(path, {**keys, record.id: record})
    return key, record


def revoke_key(path: Path, key_id: str) -> tuple[ApiKey, bool]:
    """Mark ``key_id`` revoked; the record and whether it was active until now."""
    with locked(path):
        keys = read_keys(path)
        record = keys.get(key_id)
        if record is None:
            raise KeysFileError(f"no key {key_id!r} in {path}")
        if record.revoked:
            return record, False
        record = replace(record, revoked=True, revoked_at=_now())
        write_keys(path, {**keys, key_id: record})
    return record, True


# -------------------------------------------------------------------------- reading live


@dataclass(frozen=True, slots=True)
class _Stamp:
    inode: int
    size: int
    mtime_ns: int


class KeysFile:
    """A service's view of the keys file, re-read whenever its ``stat`` changes.

    One ``os.stat`` per :meth:`keys` call (about a microsecond): a revocation written by
    ``kmidi keys revoke`` (a new file renamed over the old: a new inode), an edit in place
    (a new mtime) or a Kubernetes Secret update (a new target of the mounted symlink) is
    seen by the next request. No watcher thread.

    Unlike :func:`read_keys`, a missing file is an error here: a service told to require
    keys must not silently accept none, or start with none and lock everyone out unseen.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: _Stamp | None = None
        self._keys: dict[str, ApiKey] = {}
        self.reloads = 0
        self.keys()  # fail now, at start-up, when the file is not usable

    def keys(self) -> dict[str, ApiKey]:
        """The current keys by id; ``KeysFileError`` when the file cannot be used."""
        try:
            info = os.stat(self.path)
        except OSError as exc:
            self._stamp = None
            raise KeysFileError(f"cannot read the API keys file {self.path}: {exc}") from exc
        stamp = _Stamp(info.st_ino, info.st_size, info.st_mtime_ns)
        if stamp != self._stamp:
            try:
                text = self.path.read_text(encoding="utf-8")
            except OSError as exc:
                raise KeysFileError(f"cannot read the API keys file {self.path}: {exc}") from exc
            try:
                keys = parse_keys(text)
            except KeysFileError as exc:
                raise KeysFileError(f"{self.path}: {exc}") from exc
            # Set only once parsed: a broken file is tried again on the next request.
            self._keys, self._stamp = keys, stamp
            self.reloads += 1
        return self._keys

    def match(self, presented: str) -> ApiKey | None:
        """The active key ``presented`` is, or None (see :func:`match_key`)."""
        return match_key(self.keys(), presented)

    @property
    def world_readable(self) -> bool:
        try:
            return bool(os.stat(self.path).st_mode & 0o004)
        except OSError:
            return False
