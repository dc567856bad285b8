"""The OpenTelemetry SDK behind ``service_common.telemetry``: imported only when tracing is on.

Spans go through a batch processor to the OTLP/HTTP exporter, which reads the standard
``OTEL_EXPORTER_OTLP_*`` variables (endpoint, headers, timeout, compression) and the batch
processor its ``OTEL_BSP_*`` ones. The provider flushes what is queued when the process
exits normally.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Final

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from schemas.headers import TRACEPARENT
from service_common.build_info import build_labels
from service_common.telemetry import Attributes, SpanKindName

_KINDS: Final[dict[SpanKindName, SpanKind]] = {
    "internal": SpanKind.INTERNAL,
    "server": SpanKind.SERVER,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
}
_PROPAGATOR: Final = TraceContextTextMapPropagator()


class Tracing:
    """A tracer provider exporting over OTLP, and the span helpers the facade calls."""

    def __init__(self, service_name: str) -> None:
        version = build_labels()["version"]
        resource = Resource.create(
            {"service.name": service_name, "service.namespace": "kmidi", "service.version": version}
        )
        self.provider = TracerProvider(resource=resource)
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self.tracer = self.provider.get_tracer("kmidi", version)

    def span(
        self,
        name: str,
        *,
        kind: SpanKindName,
        traceparent: str | None,
        attributes: Attributes | None,
    ) -> AbstractContextManager[Span]:
        """A current span; a child of ``traceparent`` if given and valid, else of the
        current span (a new trace when there is none)."""
        context = _PROPAGATOR.extract({TRACEPARENT: traceparent}) if traceparent else None
        return self.tracer.start_as_current_span(
            name, context=context, kind=_KINDS[kind], attributes=attributes
        )

    def current_traceparent(self) -> str | None:
        """The W3C traceparent of the current span, None outside any span."""
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier.get(TRACEPARENT)
