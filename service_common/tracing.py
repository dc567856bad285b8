"""W3C trace context (``traceparent``) carried from HTTP into every Kafka hop."""

from __future__ import annotations

import re
import secrets

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def new_traceparent() -> str:
    """Start a new sampled trace."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_traceparent(parent: str | None) -> str:
    """A new span in the parent's trace, or a new trace when the parent is absent or invalid."""
    match = _TRACEPARENT.fullmatch(parent.strip().lower()) if parent else None
    if match is None or set(match.group(1)) == {"0"} or set(match.group(2)) == {"0"}:
        return new_traceparent()
    return f"00-{match.group(1)}-{secrets.token_hex(8)}-{match.group(3)}"


def trace_id(traceparent: str | None) -> str | None:
    """The trace ID of a valid traceparent, for log correlation."""
    match = _TRACEPARENT.fullmatch(traceparent.strip().lower()) if traceparent else None
    return match.group(1) if match else None
