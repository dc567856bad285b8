"""Is a Kafka broker answering? A stdlib-only probe that speaks just enough of the protocol.

``kmidi`` may not import a Kafka client (see docs/architecture.md), and an open TCP port proves
nothing: the JVM binds its listeners before the broker can serve metadata. So the probe
sends ApiVersions (v0, which every broker answers), picks a Metadata version both sides
know and counts the brokers in the answer.

Given a ``KafkaConnection`` instead of a bare address, it speaks TLS for SSL and SASL_SSL
and authenticates with SASL PLAIN or SCRAM-SHA-256/512 first, so a wrong password or an
untrusted certificate shows as such.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for types: pydantic-settings would slow every kmidi command
    from schemas.kafka_connection import KafkaConnection

_API_METADATA = 3
_API_SASL_HANDSHAKE = 17
_API_VERSIONS = 18
_API_SASL_AUTHENTICATE = 36
# Metadata versions whose (non-flexible) layout _parse_metadata understands, best first.
# v0 is kept for old brokers; Kafka 4.0 dropped v0-v3 (KIP-896) but still serves v4.
_METADATA_VERSIONS = (4, 1, 0)
_CLIENT_ID = b"kmidi-probe"


class ProbeError(Exception):
    """The peer did not answer like a Kafka broker."""


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    """One broker as the cluster metadata lists it."""

    node_id: int
    host: str
    port: int


def parse_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    """Split ``host:port,host:port`` into address pairs (``[::1]:9092`` works too)."""
    addresses: list[tuple[str, int]] = []
    for raw in bootstrap.split(","):
        item = raw.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"not a host:port address: {item!r}")
        addresses.append((host.strip("[]") or "127.0.0.1", int(port)))
    if not addresses:
        raise ValueError(f"no address in bootstrap {bootstrap!r}")
    return addresses


def broker_answers(target: str | KafkaConnection, *, timeout: float = 2.0) -> bool:
    """True when any bootstrap address answers a Metadata request listing >= 1 broker.

    ``target`` is a PLAINTEXT ``host:port[,…]`` or a ``KafkaConnection``.
    """
    try:
        return bool(fetch_brokers(target, timeout=timeout))
    except (OSError, ProbeError):
        return False


def fetch_brokers(target: str | KafkaConnection, *, timeout: float = 2.0) -> list[BrokerInfo]:
    """The broker list from the first bootstrap address that answers; raises if none does."""
    security = None if isinstance(target, str) else target
    bootstrap = target if isinstance(target, str) else target.bootstrap_servers
    last_error: Exception = ProbeError(f"no address in {bootstrap!r}")
    for host, port in parse_bootstrap(bootstrap):
        try:
            return _metadata_brokers(host, port, timeout, security)
        except (OSError, ProbeError) as exc:
            last_error = exc
    raise last_error


def wait_for_broker(bootstrap: str, timeout: float) -> None:
    """Block until a broker answers at ``bootstrap``; ``TimeoutError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if broker_answers(bootstrap, timeout=max(0.1, min(2.0, remaining))):
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no Kafka broker answered at {bootstrap} within {timeout:g}s")
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def _metadata_brokers(
    host: str, port: int, timeout: float, security: KafkaConnection | None
) -> list[BrokerInfo]:
    deadline = time.monotonic() + timeout
    with _connect(host, port, timeout, security) as sock:
        versions = _api_versions(sock, deadline)
        if security is not None and security.sasl_password is not None:
            _sasl_authenticate(sock, security, deadline)
        low, high = versions.get(_API_METADATA, (0, 0))
        version = next((v for v in _METADATA_VERSIONS if low <= v <= high), None)
        if version is None:
            raise ProbeError(f"broker serves Metadata v{low}-v{high}, probe knows none of them")
        # v0: an empty topic array means "all topics"; v1+: it means "none", which is cheaper.
        body = struct.pack(">i", 0)
        if version >= 4:
            body += b"\x00"  # allow_auto_topic_creation = false
        payload = _roundtrip(sock, _API_METADATA, version, 5, body, deadline)
        return _parse_metadata(payload, version)


def _connect(
    host: str, port: int, timeout: float, security: KafkaConnection | None
) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    context = security.ssl_context() if security is not None else None
    if context is None:
        return sock
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


def _sasl_authenticate(sock: socket.socket, security: KafkaConnection, deadline: float) -> None:
    """SaslHandshake v1, then SaslAuthenticate v0 rounds for the configured mechanism."""
    mechanism = security.sasl_mechanism or "PLAIN"
    name = mechanism.encode()
    reader = _Reader(
        _roundtrip(sock, _API_SASL_HANDSHAKE, 1, 2, struct.pack(">h", len(name)) + name, deadline)
    )
    error_code = reader.int16()
    enabled = [reader.string() for _ in range(reader.array_len())]
    if error_code != 0 or mechanism not in enabled:
        raise ProbeError(f"broker does not offer SASL {mechanism} (it offers {enabled})")
    password = security.sasl_password.get_secret_value() if security.sasl_password else ""
    user = security.sasl_username or ""
    correlation = iter(range(3, 5))

    def authenticate(message: bytes) -> bytes:
        body = struct.pack(">i", len(message)) + message
        reply = _Reader(
            _roundtrip(sock, _API_SASL_AUTHENTICATE, 0, next(correlation), body, deadline)
        )
        code, error = reply.int16(), reply.string()
        if code != 0:
            raise ProbeError(f"SASL {mechanism} authentication failed: {error or code}")
        return reply.bytes()

    if mechanism == "PLAIN":
        authenticate(b"\0" + user.encode() + b"\0" + password.encode())
    else:
        _scram(authenticate, mechanism, user, password)


def _scram(
    authenticate: Callable[[bytes], bytes], mechanism: str, user: str, password: str
) -> None:
    """RFC 5802 client exchange (no channel binding), checking the server's signature."""
    digest = "sha256" if mechanism == "SCRAM-SHA-256" else "sha512"
    nonce = base64.b64encode(os.urandom(24)).decode()
    first_bare = f"n={user.replace('=', '=3D').replace(',', '=2C')},r={nonce}"
    reply = authenticate(f"n,,{first_bare}".encode())
    try:
        server_first = reply.decode()
        fields = dict(item.split("=", 1) for item in server_first.split(","))
        salt, iterations = base64.b64decode(fields["s"]), int(fields["i"])
    except (KeyError, ValueError) as exc:
        raise ProbeError(f"SCRAM: unreadable first message from the broker: {reply!r}") from exc
    if not fields.get("r", "").startswith(nonce):
        raise ProbeError("SCRAM: the broker did not extend our nonce")
    salted = hashlib.pbkdf2_hmac(digest, password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", digest)
    final_bare = f"c=biws,r={fields['r']}"
    auth_message = f"{first_bare},{server_first},{final_bare}".encode()
    signature = hmac.digest(hashlib.new(digest, client_key).digest(), auth_message, digest)
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True)))
    server_final = authenticate(f"{final_bare},p={proof.decode()}".encode()).decode()
    server_key = hmac.digest(salted, b"Server Key", digest)
    expected = base64.b64encode(hmac.digest(server_key, auth_message, digest)).decode()
    if server_final != f"v={expected}":
        raise ProbeError("SCRAM: the broker's signature does not match")


def _api_versions(sock: socket.socket, deadline: float) -> dict[int, tuple[int, int]]:
    reader = _Reader(_roundtrip(sock, _API_VERSIONS, 0, 1, b"", deadline))
    error_code = reader.int16()
    if error_code != 0:
        raise ProbeError(f"ApiVersions error code {error_code}")
    versions: dict[int, tuple[int, int]] = {}
    for _ in range(reader.array_len()):
        api_key, low, high = reader.int16(), reader.int16(), reader.int16()
        versions[api_key] = (low, high)
    return versions


def _roundtrip(
    sock: socket.socket,
    api_key: int,
    version: int,
    correlation_id: int,
    body: bytes,
    deadline: float,
) -> bytes:
    header = struct.pack(">hhih", api_key, version, correlation_id, len(_CLIENT_ID))
    request = header + _CLIENT_ID + body
    _settimeout(sock, deadline)
    sock.sendall(struct.pack(">i", len(request)) + request)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4, deadline))
    if not 4 <= size <= 16 * 1024 * 1024:
        raise ProbeError(f"implausible response size {size}")
    response = _recv_exact(sock, size, deadline)
    (got_id,) = struct.unpack_from(">i", response)
    if got_id != correlation_id:
        raise ProbeError(f"correlation id {got_id}, expected {correlation_id}")
    return response[4:]


def _parse_metadata(payload: bytes, version: int) -> list[BrokerInfo]:
    reader = _Reader(payload)
    if version >= 3:
        reader.int32()  # throttle_time_ms
    brokers: list[BrokerInfo] = []
    for _ in range(reader.array_len()):
        node_id = reader.int32()
        host = reader.string()
        port = reader.int32()
        if version >= 1:
            reader.string()  # rack
        brokers.append(BrokerInfo(node_id, host, port))
    return brokers


def _settimeout(sock: socket.socket, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("probe deadline passed")
    sock.settimeout(remaining)


def _recv_exact(sock: socket.socket, size: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    missing = size
    while missing:
        _settimeout(sock, deadline)
        chunk = sock.recv(min(missing, 65536))
        if not chunk:
            raise ProbeError("connection closed mid-response")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


class _Reader:
    """Big-endian cursor over a response body; any overrun is a ProbeError."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def _unpack(self, fmt: str) -> int:
        try:
            (value,) = struct.unpack_from(fmt, self._data, self._pos)
        except struct.error as exc:
            raise ProbeError("truncated response") from exc
        self._pos += struct.calcsize(fmt)
        return int(value)

    def int16(self) -> int:
        return self._unpack(">h")

    def int32(self) -> int:
        return self._unpack(">i")

    def array_len(self) -> int:
        length = self.int32()
        if not -1 <= length <= 100_000:
            raise ProbeError(f"implausible array length {length}")
        return max(length, 0)

    def bytes(self) -> bytes:
        length = self.int32()
        end = self._pos + max(length, 0)
        if end > len(self._data):
            raise ProbeError("truncated bytes")
        value = self._data[self._pos : end]
        self._pos = end
        return value

    def string(self) -> str:
        length = self.int16()
        if length < 0:
            return ""
        end = self._pos + length
        if end > len(self._data):
            raise ProbeError("truncated string")
        value = self._data[self._pos : end].decode("utf-8", "replace")
        self._pos = end
        return value
