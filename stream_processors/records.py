"""The consumed Kafka record as the stages see it: plain bytes, decoded headers, position."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from service_common.kafka_headers import headers_to_dict, request_id_from_headers


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One message of an input topic, independent of faust's Event type."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)
    timestamp: float | None = None
    """Broker/producer timestamp in seconds since the epoch, when the record has one."""

    @classmethod
    def from_event(cls, event: Any) -> InputRecord:
        """Build from a faust ``Event`` of a raw-serialised topic."""
        message = event.message
        raw_headers = message.headers
        pairs = raw_headers.items() if isinstance(raw_headers, Mapping) else raw_headers
        value = message.value
        return cls(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=_as_bytes(message.key),
            value=_as_bytes(value) or b"",
            headers=headers_to_dict(pairs),
            timestamp=message.timestamp,
        )

    @property
    def header_request_id(self) -> str | None:
        """``x-request-id`` when present and well formed."""
        return request_id_from_headers(self.headers)

    @property
    def produced_at(self) -> datetime | None:
        if not self.timestamp or self.timestamp <= 0:
            return None
        return datetime.fromtimestamp(self.timestamp, UTC)


def _as_bytes(value: object) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    raise TypeError(f"expected raw bytes from a raw-serialised topic, got {type(value)!r}")
