"""Kafka message header and HTTP header names carried on every hop."""

from __future__ import annotations

import re

REQUEST_ID = "x-request-id"
"""Kafka header (and, case-insensitively, HTTP header) with the request ID."""
TRACEPARENT = "traceparent"
"""W3C trace context header."""
CONTENT_TYPE = "content-type"
JSON_CONTENT_TYPE = "application/json"

API_KEY_ID = "kmidi-api-key-id"
"""Kafka header: the public id of the API key that submitted the request (the ingress sets
it when the service has API keys; the worker copies it onto every record it publishes for
that request, so the results service knows the owner). Absent on anonymous requests."""

HTTP_REQUEST_ID = "X-Request-ID"

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
"""A client-given request ID is accepted only when it matches this; else a new one is made."""


def is_valid_request_id(value: str | None) -> bool:
    """Whether a client-supplied request ID may be used as given."""
    return value is not None and REQUEST_ID_PATTERN.fullmatch(value) is not None
