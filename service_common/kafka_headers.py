"""Kafka message headers: built the same way by every producer, read defensively.

Besides the headers every producer sets, a consumed record may carry headers that belong
to its request rather than to the hop (:data:`PROPAGATED_HEADERS`: today the id of the API
key that submitted it). While a record is processed they are made current
(:func:`propagating`), and whatever is published meanwhile carries them too
(:func:`with_propagated`), so they travel intent → plan → result without each stage
copying them by name.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from schemas.headers import (
    API_KEY_ID,
    CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    REQUEST_ID,
    TRACEPARENT,
    is_valid_request_id,
)

KafkaHeaders = list[tuple[str, bytes]]

PROPAGATED_HEADERS: Final[tuple[str, ...]] = (API_KEY_ID,)
"""Headers a stage copies from the record it consumes onto every record it publishes."""

_propagated: contextvars.ContextVar[tuple[tuple[str, bytes], ...]] = contextvars.ContextVar(
    "kmidi_propagated_headers", default=()
)


def build_headers(request_id: str, traceparent: str) -> KafkaHeaders:
    """Headers every kmidi event carries."""
    return [
        (REQUEST_ID, request_id.encode()),
        (TRACEPARENT, traceparent.encode()),
        (CONTENT_TYPE, JSON_CONTENT_TYPE.encode()),
    ]


def headers_to_dict(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """Decode headers written by anyone: None values, bad UTF-8 and repeats are tolerated."""
    decoded: dict[str, str] = {}
    for name, value in headers or ():
        # Last one wins, as in HTTP proxies; names are case-insensitive by convention.
        decoded[name.lower()] = (value or b"").decode("utf-8", errors="replace")[:1024]
    return decoded


def request_id_from_headers(headers: dict[str, str]) -> str | None:
    """The request ID header when present and well formed."""
    value = headers.get(REQUEST_ID)
    return value if is_valid_request_id(value) else None


def propagated_of(
    headers: Mapping[str, str] | Iterable[tuple[str, bytes | None]],
) -> tuple[tuple[str, bytes], ...]:
    """The :data:`PROPAGATED_HEADERS` among a record's headers (decoded or raw)."""
    if isinstance(headers, Mapping):
        return tuple(
            (name, headers[name].encode()) for name in PROPAGATED_HEADERS if headers.get(name)
        )
    found: dict[str, bytes] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered in PROPAGATED_HEADERS and value:
            found[lowered] = value  # last one wins, as in headers_to_dict
    return tuple(found.items())


@contextmanager
def propagating(carried: tuple[tuple[str, bytes], ...]) -> Iterator[None]:
    """Make ``carried`` (from :func:`propagated_of`) the headers records published inside
    this block inherit; tasks started inside it inherit them too (``contextvars``)."""
    token = _propagated.set(carried)
    try:
        yield
    finally:
        _propagated.reset(token)


def with_propagated(headers: KafkaHeaders) -> KafkaHeaders:
    """``headers`` plus the current propagated headers it does not set itself."""
    carried = _propagated.get()
    if not carried:
        return headers
    present = {name for name, _ in headers}
    return headers + [(name, value) for name, value in carried if name not in present]
