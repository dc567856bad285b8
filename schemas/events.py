"""Kafka event values: UTF-8 JSON, each carrying ``schema`` (name and version) and ``request_id``.

Events tolerate unknown top-level fields (``extra="ignore"``) so producers can add fields
without breaking older consumers; the intent inside is strict, because a typo in a wish
("bmp") must be reported, not silently dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from schemas.intent import MAX_TEXT_CHARS, Intent

RequestId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
SessionId = RequestId
Seed = Annotated[int, Field(ge=0, le=2**31 - 1)]

INTENT_SCHEMA: Final = "kmidi.intent.v1"
PLAN_SCHEMA: Final = "kmidi.plan.v1"
RESULT_SCHEMA: Final = "kmidi.result.v1"
INTERROGATION_SCHEMA: Final = "kmidi.interrogation.v1"
INTERROGATION_REPLY_SCHEMA: Final = "kmidi.interrogation-reply.v1"
DEADLETTER_SCHEMA: Final = "kmidi.deadletter.v1"
IDEMPOTENCY_SCHEMA: Final = "kmidi.idempotency.v1"

RESULT_SCHEMA_VERSION: Final = "1.1"
"""Revision of ``kmidi.result.v1``: 1.1 adds output_format, audio_format, artifacts and
artifact_errors. Additive only; a result without ``schema_version`` is 1.0."""

MAX_EVENT_BYTES = 1024 * 1024
"""Largest event value a stage accepts; larger ones are dead-lettered unread."""

OutputFormat = Literal["midi", "audio"]
AudioFormat = Literal["ogg", "opus", "wav"]
"""The same names as ``kmidi.audio.AudioFormat`` (a test keeps them equal)."""
DEFAULT_AUDIO_FORMAT: Final[AudioFormat] = "ogg"
ArtifactKind = Literal["midi", "audio"]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Fields every kmidi event carries; subclasses pin ``schema`` to their own name."""

    schema_: str = Field(alias="schema")
    request_id: RequestId


class ErrorInfo(BaseModel):
    """Why a request failed: a stable machine code and a sentence for people."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(examples=["invalid_key"])
    message: str = Field(examples=['key "H#" not understood'])
    stage: str | None = Field(default=None, examples=["interrogation"])


class OutputChoice(BaseModel):
    """What a request asked to get: MIDI alone, or MIDI and audio in ``audio_format``."""

    output_format: OutputFormat = Field(
        default="midi", description='"audio" adds a rendered audio file to the MIDI.'
    )
    audio_format: AudioFormat | None = Field(
        default=None,
        description='With output_format "audio": "ogg" (Vorbis, the default), "opus" or "wav".',
    )

    @model_validator(mode="after")
    def _audio_format_needs_audio(self) -> OutputChoice:
        if self.audio_format is not None and self.output_format != "audio":
            raise ValueError('audio_format is only allowed with output_format "audio"')
        return self

    @property
    def wants_audio(self) -> bool:
        return self.output_format == "audio"

    @property
    def chosen_audio_format(self) -> AudioFormat | None:
        """The audio format to render, default applied; None for a MIDI-only request."""
        return (self.audio_format or DEFAULT_AUDIO_FORMAT) if self.wants_audio else None


class Artifact(BaseModel):
    """A file made for a request, kept in the artifact store (never on Kafka)."""

    model_config = ConfigDict(frozen=True)

    kind: ArtifactKind
    media_type: str = Field(examples=["audio/ogg"])
    size: int = Field(ge=0, description="Bytes.")
    sha256: Sha256
    uri: str = Field(
        description="Where the store keeps it (file:// for the local store); over HTTP, "
        "the download URL.",
        examples=["file:///var/lib/kmidi/artifacts/r1/audio-ab12….ogg"],
    )


class ArtifactError(ErrorInfo):
    """An artifact that could not be made; the request's other artifacts stand."""

    kind: ArtifactKind


class IntentSubmitted(Event, OutputChoice):
    """An emotional intent to compose; key = request_id on ``kmidi.intents.v1``."""

    schema_: Literal["kmidi.intent.v1"] = Field(default=INTENT_SCHEMA, alias="schema")
    intent: Intent
    seed: Seed | None = None
    submitted_at: datetime = Field(default_factory=utc_now)
    source: Annotated[str, StringConstraints(max_length=64)] = "external"
    session_id: SessionId | None = None


class PlanReady(Event, OutputChoice):
    """The interrogation stage's output: the affect reading and the full musical plan."""

    schema_: Literal["kmidi.plan.v1"] = Field(default=PLAN_SCHEMA, alias="schema")
    intent: Intent
    seed: Seed
    affect: dict[str, Any]
    plan: dict[str, Any]
    submitted_at: datetime
    planned_at: datetime = Field(default_factory=utc_now)


class GenerationResult(Event, OutputChoice):
    """The finished piece or the reason it failed; the contract for downstream consumers.

    An audio request gets two results under its key: the ``completed`` one with the MIDI
    (audio still to come), then the audio stage's copy of it with the audio artifact added
    (or an entry in ``artifact_errors``). Compaction keeps the last.
    """

    schema_: Literal["kmidi.result.v1"] = Field(default=RESULT_SCHEMA, alias="schema")
    schema_version: str = Field(
        default=RESULT_SCHEMA_VERSION,
        description="Additive revision of kmidi.result.v1; absent means 1.0.",
    )
    status: Literal["completed", "failed"]
    midi_base64: str | None = None
    affect: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    error: ErrorInfo | None = None
    seed: Seed | None = None
    duration_seconds: float | None = Field(default=None, description="Length of the piece.")
    submitted_at: datetime | None = None
    completed_at: datetime = Field(default_factory=utc_now)
    artifacts: list[Artifact] = Field(
        default_factory=list, description="Files in the artifact store (1.1)."
    )
    artifact_errors: list[ArtifactError] = Field(
        default_factory=list, description="Artifacts that could not be made (1.1)."
    )

    def artifact(self, kind: ArtifactKind) -> Artifact | None:
        """The artifact of ``kind``, if the result has one."""
        return next((a for a in self.artifacts if a.kind == kind), None)

    @property
    def audio_pending(self) -> bool:
        """A completed audio request whose audio is neither made nor failed yet."""
        return (
            self.status == "completed"
            and self.wants_audio
            and self.artifact("audio") is None
            and not any(e.kind == "audio" for e in self.artifact_errors)
        )


class InterrogationTurn(Event):
    """One message of a person in a refinement conversation; key = session_id."""

    schema_: Literal["kmidi.interrogation.v1"] = Field(default=INTERROGATION_SCHEMA, alias="schema")
    session_id: SessionId
    message: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS)
    ]
    sent_at: datetime = Field(default_factory=utc_now)


class InterrogationReply(Event):
    """The stage's answer to a turn: what it understood, what it asks next, if ready."""

    schema_: Literal["kmidi.interrogation-reply.v1"] = Field(
        default=INTERROGATION_REPLY_SCHEMA, alias="schema"
    )
    session_id: SessionId
    turn: int = Field(ge=0)
    extracted: dict[str, Any] = Field(default_factory=dict)
    intent: dict[str, Any] = Field(
        default_factory=dict, description="The intent so far, shaped like Intent."
    )
    affect: dict[str, Any] | None = None
    ready: bool
    question: str | None = None
    suggestions: list[str] = Field(default_factory=list)
    replied_at: datetime = Field(default_factory=utc_now)


class DeadLetter(BaseModel):
    """A message no stage could process, kept whole with the reason; key = original key."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    schema_: Literal["kmidi.deadletter.v1"] = Field(default=DEADLETTER_SCHEMA, alias="schema")
    request_id: str | None = Field(
        default=None, description="From the x-request-id header or the value, when readable."
    )
    stage: str
    reason: str = Field(description="Machine code: not_json, schema_invalid, too_large, …")
    error: str
    original_topic: str
    original_partition: int
    original_offset: int
    original_key_base64: str | None = None
    original_value_base64: str
    original_headers: dict[str, str] = Field(default_factory=dict)
    failed_at: datetime = Field(default_factory=utc_now)


class IdempotencyRecord(Event):
    """One step of an Idempotency-Key claim; key = API key id and Idempotency-Key.

    ``claimed`` takes the key unless a live claim holds it (the first in the partition
    wins), ``completed`` records the winner's 202 for its retries, ``released`` frees a
    claim whose request failed. Written and read by the ingress replicas only.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    schema_: Literal["kmidi.idempotency.v1"] = Field(default=IDEMPOTENCY_SCHEMA, alias="schema")
    kind: Literal["claimed", "completed", "released"]
    fingerprint: Sha256 = Field(description="SHA-256 of the request body's canonical JSON.")
    created: float = Field(ge=0, description="When the claim was made, Unix seconds.")
    response: str | None = Field(
        default=None, description="completed: the 202 body the retries replay, base64."
    )


EVENT_MODELS: dict[str, type[BaseModel]] = {
    INTENT_SCHEMA: IntentSubmitted,
    PLAN_SCHEMA: PlanReady,
    RESULT_SCHEMA: GenerationResult,
    INTERROGATION_SCHEMA: InterrogationTurn,
    INTERROGATION_REPLY_SCHEMA: InterrogationReply,
    DEADLETTER_SCHEMA: DeadLetter,
    IDEMPOTENCY_SCHEMA: IdempotencyRecord,
}
"""Every event model by its ``schema`` name; drives the JSON Schema export."""


def dump_event(event: BaseModel) -> bytes:
    """Serialise an event the way it goes on the wire: UTF-8 JSON, field aliases, no nulls lost."""
    return event.model_dump_json(by_alias=True).encode()
