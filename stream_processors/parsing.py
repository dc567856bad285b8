"""Bytes → kmidi event, or a ``PoisonMessageError`` that says why it cannot be read."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from schemas.events import MAX_EVENT_BYTES
from schemas.headers import is_valid_request_id
from stream_processors.deadletter import NOT_JSON, SCHEMA_INVALID, TOO_LARGE
from stream_processors.records import InputRecord

EventModel = TypeVar("EventModel", bound=BaseModel)


class PoisonMessageError(ValueError):
    """A message that can never be processed as it is: it goes to the dead-letter topic."""

    def __init__(self, reason: str, error: str, *, request_id: str | None) -> None:
        super().__init__(error)
        self.reason = reason
        self.error = error
        self.request_id = request_id
        """The request ID when still readable (header, else the JSON's ``request_id``)."""


def parse_event(
    record: InputRecord, model: type[EventModel], *, defaults: dict[str, Any] | None = None
) -> EventModel:
    """Validate ``record.value`` as ``model``; ``defaults`` fill fields the JSON lacks."""
    header_id = record.header_request_id
    if len(record.value) > MAX_EVENT_BYTES:
        raise PoisonMessageError(
            TOO_LARGE,
            f"value is {len(record.value)} bytes; the limit is {MAX_EVENT_BYTES}",
            request_id=header_id,
        )
    try:
        raw = json.loads(record.value.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PoisonMessageError(NOT_JSON, f"not UTF-8: {exc}", request_id=header_id) from exc
    except json.JSONDecodeError as exc:
        raise PoisonMessageError(NOT_JSON, f"not JSON: {exc}", request_id=header_id) from exc
    if not isinstance(raw, dict):
        raise PoisonMessageError(
            SCHEMA_INVALID,
            f"expected a JSON object, got {type(raw).__name__}",
            request_id=header_id,
        )
    body_id = raw.get("request_id")
    body_id = body_id if isinstance(body_id, str) and is_valid_request_id(body_id) else None
    request_id = body_id or header_id
    for name, value in (defaults or {}).items():
        raw.setdefault(name, value)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise PoisonMessageError(SCHEMA_INVALID, str(exc), request_id=request_id) from exc
