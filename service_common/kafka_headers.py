"""Kafka message headers: built the same way by every producer, read defensively."""

from __future__ import annotations

from collections.abc import Iterable

from schemas.headers import (
    CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    REQUEST_ID,
    TRACEPARENT,
    is_valid_request_id,
)

KafkaHeaders = list[tuple[str, bytes]]


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
