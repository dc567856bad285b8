"""OpenTelemetry spans for every hop, on only when an OTLP endpoint is configured.

Tracing is on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
is set (and ``OTEL_SDK_DISABLED`` is not ``true``); each service calls
:func:`configure_tracing` once at start-up. Off, nothing of the OpenTelemetry SDK is
imported and every helper here returns one shared null context: a global check and a
function call per span (``bench/bench_tracing.py`` measures it). On, the SDK lives in
``service_common.otel_sdk``, imported by :func:`configure_tracing` alone.

Spans link hops through the ``traceparent`` header every Kafka message already carries: a
consume span is a child of the message's traceparent, and a publish span puts its own
context into the record it sends (:func:`with_current_traceparent`), so one request is one
trace from the HTTP call to the results service.

The same two hooks carry a request's propagated headers (``kafka_headers.PROPAGATED_HEADERS``,
the submitting API key's id) from the record a stage consumes to the records it publishes,
with tracing on or off: every consumer opens :func:`consume_span` around a record and
every publisher passes its headers through :func:`with_current_traceparent`, so this is
the one place where both ends meet without each stage copying the header by name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Literal

from schemas.headers import TRACEPARENT
from service_common.kafka_headers import (
    KafkaHeaders,
    headers_to_dict,
    propagated_of,
    propagating,
    with_propagated,
)

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from service_common.otel_sdk import Tracing

SpanKindName = Literal["internal", "server", "producer", "consumer"]
Attributes = Mapping[str, str | int | float | bool]
RawHeaders = Mapping[str, str] | Iterable[tuple[str, bytes | None]]

_OFF: AbstractContextManager[None] = nullcontext()
_tracing: Tracing | None = None


def tracing_requested() -> bool:
    """Whether the environment asks for traces (an OTLP endpoint, the SDK not disabled)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(service_name: str) -> bool:
    """Start exporting this process's spans when the environment asks for it; idempotent."""
    global _tracing
    if _tracing is None and tracing_requested():
        from service_common.otel_sdk import Tracing

        _tracing = Tracing(service_name)
    return _tracing is not None


def tracing_enabled() -> bool:
    """Whether :func:`configure_tracing` turned tracing on in this process."""
    return _tracing is not None


def span(
    name: str,
    *,
    kind: SpanKindName = "internal",
    traceparent: str | None = None,
    attributes: Attributes | None = None,
) -> AbstractContextManager[Span | None]:
    """A current span named ``name`` (child of ``traceparent`` when given), or nothing."""
    if _tracing is None:
        return _OFF
    return _tracing.span(name, kind=kind, traceparent=traceparent, attributes=attributes)


def consume_span(
    topic: str,
    partition: int,
    offset: int,
    headers: RawHeaders,
    *,
    consumer_group: str | None,
) -> AbstractContextManager[Span | None]:
    """The span of processing one Kafka record, a child of the record's ``traceparent``.

    Inside it, the record's propagated headers are current: what is published while it is
    processed carries them (:func:`with_current_traceparent`), tracing on or off.
    """
    if not isinstance(headers, Mapping):
        headers = tuple(headers)  # read twice below
    carried = propagated_of(headers)
    if _tracing is None:
        return _OFF if not carried else propagating(carried)
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": str(partition),
        "messaging.kafka.offset": offset,
    }
    if consumer_group:
        attributes["messaging.consumer.group.name"] = consumer_group
    span = _tracing.span(
        f"process {topic}",
        kind="consumer",
        traceparent=_traceparent(headers),
        attributes=attributes,
    )
    return span if not carried else _propagating_span(span, carried)


@contextmanager
def _propagating_span(
    span: AbstractContextManager[Span | None], carried: tuple[tuple[str, bytes], ...]
) -> Iterator[Span | None]:
    with propagating(carried), span as current:
        yield current


def publish_span(topic: str) -> AbstractContextManager[Span | None]:
    """The span of sending one record to ``topic`` until the broker acknowledged it."""
    if _tracing is None:
        return _OFF
    return _tracing.span(
        f"send {topic}",
        kind="producer",
        traceparent=None,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
        },
    )


def with_current_traceparent(headers: KafkaHeaders) -> KafkaHeaders:
    """``headers`` with the current span as ``traceparent`` (unchanged when tracing is off),
    and the propagated headers of the record being processed, if any."""
    headers = with_propagated(headers)
    if _tracing is None:
        return headers
    current = _tracing.current_traceparent()
    if current is None:
        return headers
    return [(k, v) for k, v in headers if k != TRACEPARENT] + [(TRACEPARENT, current.encode())]


def _traceparent(headers: RawHeaders) -> str | None:
    decoded = headers if isinstance(headers, Mapping) else headers_to_dict(headers)
    return decoded.get(TRACEPARENT)
