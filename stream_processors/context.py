"""The one object a stage carries through the handling of a record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.headers import TRACEPARENT
from service_common.kafka_headers import KafkaHeaders
from stream_processors.publishing import Publisher, output_headers
from stream_processors.records import InputRecord


@dataclass(slots=True)
class StageContext:
    """One record's handling by one stage: the record, where outputs go, and the request.

    Made when the record arrives; ``request_id`` and ``submitted_at`` are filled in once the
    record has been read (or from a poison message's readable request ID), so every step
    after that answers for the right request without being handed it again.
    """

    stage: str
    record: InputRecord
    publisher: Publisher
    failure_code: str | None = None
    """Code of the ``failed`` result answering a request this stage cannot finish; None for
    stages whose input is not a request awaiting a result (conversation, audio)."""
    request_id: str | None = None
    submitted_at: datetime | None = None

    def identify(self, request_id: str | None, submitted_at: datetime | None = None) -> None:
        """The request this record belongs to, once it is known."""
        self.request_id = request_id
        self.submitted_at = submitted_at

    @property
    def traceparent(self) -> str | None:
        """The consumed record's trace context; outputs carry a child of it."""
        return self.record.headers.get(TRACEPARENT)

    def output_headers(self) -> KafkaHeaders:
        """Headers of a record published for this request (request ID, child traceparent)."""
        return output_headers(self.request_id, self.traceparent)
