"""HTTP request and response bodies of the ingress and the results service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from schemas.events import Artifact, ArtifactError, ErrorInfo, OutputChoice, SessionId
from schemas.intent import MAX_TEXT_CHARS, Intent

RequestStatus = Literal["accepted", "processing", "completed", "failed"]
AudioStatus = Literal["pending", "completed", "failed"]


HttpSeed = Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]
"""A seed in an HTTP body: a JSON integer (``true`` or ``"7"`` is a 422, as the document
says; events from Kafka keep pydantic's lax reading)."""


class GenerateRequest(OutputChoice):
    """The seed service's body, kept as is, plus an optional seed for reproducible pieces."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"intent": {"emotional_intent": "I am feeling grief"}, "output_format": "midi"},
                {
                    "intent": {
                        "emotional_intent": "we won the championship!",
                        "core_desire": "to remember this night forever",
                        "technical": {"key": "D major", "bpm": 132, "genre": "rock"},
                    },
                    "seed": 7,
                },
                {
                    "intent": {"emotional_intent": "a slow waltz for my grandmother"},
                    "output_format": "audio",
                    "audio_format": "opus",
                },
            ]
        },
    )

    intent: Intent
    seed: HttpSeed | None = Field(default=None, description="Same intent and seed → same bytes.")


class GenerateAccepted(BaseModel):
    """Answer to a generation request once the broker has the intent."""

    request_id: str
    status: Literal["accepted"] = "accepted"
    status_url: str
    result_url: str


class InterrogateRequest(OutputChoice):
    """One message in a refinement conversation; omit session_id to start one.

    ``output_format`` and ``audio_format`` apply to the generation that ``submit`` starts.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"message": "I lost my dad last spring"}]},
    )

    session_id: SessionId | None = None
    message: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS)
    ]
    submit: StrictBool = Field(
        default=False,
        description="When the conversation is ready, also submit the intent for generation.",
    )
    seed: HttpSeed | None = None


class InterrogateResponse(BaseModel):
    """What the interrogation stage understood and what it asks next."""

    request_id: str
    session_id: str
    turn: int
    ready: bool
    question: str | None
    suggestions: list[str]
    extracted: dict[str, Any]
    intent: dict[str, Any]
    affect: dict[str, Any] | None
    generation: GenerateAccepted | None = Field(
        default=None, description="Set when submit was true and the intent was ready."
    )


class ResultStatus(BaseModel):
    """A request's state in the results service."""

    request_id: str
    status: RequestStatus
    submitted_at: datetime | None = None
    updated_at: datetime | None = None
    result_url: str | None = Field(default=None, description="Set once completed.")
    error: ErrorInfo | None = None
    seed: int | None = None
    duration_seconds: float | None = None
    output_format: Literal["midi", "audio"] = "midi"
    audio_status: AudioStatus | None = Field(
        default=None,
        description="Audio requests only: pending until the audio stage has made the file.",
    )
    audio_url: str | None = Field(default=None, description="Set once the audio is made.")
    artifacts: list[Artifact] = Field(
        default_factory=list, description="The request's files; uri is the download URL."
    )
    artifact_errors: list[ArtifactError] = Field(default_factory=list)
    affect: dict[str, Any] | None = None
    plan: dict[str, Any] | None = Field(default=None, description="Only with ?format=json.")
    notes: list[dict[str, Any]] | None = Field(default=None, description="Only with ?format=json.")


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: what went wrong and the request ID to quote."""

    request_id: str
    error: ErrorInfo
    details: list[dict[str, Any]] | None = None


class EmotionsCatalogue(BaseModel):
    """The emotion presets and modifiers with their musical parameters."""

    emotions: list[dict[str, Any]]
    modifiers: list[dict[str, Any]]


class HealthReport(BaseModel):
    """Liveness/readiness details."""

    status: Literal["ok", "degraded", "unavailable"]
    service: str
    version: str
    uptime_seconds: float
    checks: dict[str, bool] = Field(default_factory=dict)
    reason: str | None = Field(
        default=None, description="Why the broker cannot be reached (its error), when known."
    )
