"""OpenAPI documentation of the error answers, shared by the routes."""

from __future__ import annotations

from typing import Any

from schemas.http import ErrorBody

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
    }
}
_REQUEST_ID = {
    "X-Request-ID": {
        "description": "The request ID (the client's when valid, else a new one).",
        "schema": {"type": "string"},
    }
}


def _error(
    description: str,
    examples: dict[str, tuple[str, str]],
    *,
    headers: dict[str, Any] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    content_examples = {
        name: {
            "summary": code,
            "value": {
                "request_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                "error": {"code": code, "message": message},
                **({"details": details} if details else {}),
            },
        }
        for name, (code, message) in examples.items()
    }
    return {
        "model": ErrorBody,
        "description": description,
        "headers": {**_REQUEST_ID, **(headers or {})},
        "content": {"application/json": {"examples": content_examples}},
    }


ERROR_RESPONSES: dict[int, dict[str, Any]] = {
    400: _error(
        "The body could not be read as JSON text (for example, bytes that are not UTF-8).",
        {"unreadable": ("bad_request", "There was an error parsing the body")},
    ),
    409: _error(
        "A request with this X-Request-ID is still in flight.",
        {"in_flight": ("request_in_flight", "request abc is already waiting for a reply")},
    ),
    413: _error(
        "The body is larger than MAX_BODY_BYTES.",
        {"too_large": ("payload_too_large", "request body larger than 1048576 bytes")},
    ),
    415: _error(
        "The body was not sent as JSON.",
        {
            "not_json": (
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            )
        },
    ),
    422: _error(
        "The body is not valid JSON, breaks the schema, or asks for a wish kmidi cannot honour.",
        {
            "invalid_json": ("invalid_json", "request body is not valid JSON"),
            "validation_error": (
                "validation_error",
                "intent.technical.bpm: Input should be less than or equal to 240",
            ),
            "invalid_key": ("invalid_key", 'key "H#" not understood'),
        },
        details=[
            {
                "loc": ["body", "intent", "technical", "bpm"],
                "msg": "Input should be less than or equal to 240",
                "type": "less_than_equal",
                "ctx": {"le": 240},
            }
        ],
    ),
    429: _error(
        "Too many requests from this client address.",
        {"rate_limited": ("rate_limited", "rate limit of 60 per 1 minute exceeded; retry in 12 s")},
        headers=_RETRY_AFTER,
    ),
    503: _error(
        "Kafka did not acknowledge the event in time; nothing was accepted. Retry later.",
        {
            "broker_unavailable": (
                "broker_unavailable",
                "no acknowledgement from Kafka within 5 s",
            )
        },
        headers=_RETRY_AFTER,
    ),
    504: _error(
        "The interrogation stage did not answer in time; retry with the same session_id.",
        {
            "interrogation_timeout": (
                "interrogation_timeout",
                "no reply for session 9f1c… within 10 s; send the message again",
            )
        },
    ),
}


IDEMPOTENCY_IN_USE = _error(
    "The first request with this Idempotency-Key is still being published.",
    {"in_use": ("idempotency_key_in_use", "the first request with this Idempotency-Key (…) "
                "is still being published; retry shortly")},
    headers=_RETRY_AFTER,
)  # fmt: skip


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers for ``statuses``."""
    return {status: ERROR_RESPONSES[status] for status in statuses}
