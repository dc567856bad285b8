"""Settings of the results service, read from the environment (pydantic-settings)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.kafka_connection import KafkaConnection


class Settings(BaseSettings):
    """Every knob of the results service; names are the environment variables."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    kafka: KafkaConnection = Field(
        default_factory=KafkaConnection,
        description="KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*.",
    )
    results_host: str | None = Field(
        default=None,
        description="Interface to bind: default 0.0.0.0 with API keys (or "
        "KMIDI_ALLOW_ANONYMOUS=true), else 127.0.0.1; another address without keys is refused.",
    )
    kmidi_api_keys_file: Path | None = Field(
        default=None,
        description="API keys file (`kmidi keys create`): when set, every route but the probes, "
        "/metrics and the API documents needs a key, and a request is shown to its key only.",
    )
    kmidi_allow_anonymous: bool = Field(
        default=False, description="Allow listening beyond 127.0.0.1 without API keys."
    )
    results_port: int = Field(default=8001, ge=0, le=65535)
    results_base_url: str = Field(
        default="http://127.0.0.1:8001",
        description="Public base URL used for absolute links such as result_url.",
    )
    results_max_entries: int = Field(
        default=100_000, ge=1, description="Requests kept in memory; least recently used go first."
    )
    results_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024 * 1024,
        description="Bound on the view's estimated memory (deflated MIDI and plan plus ~2 KB "
        "an entry); least recently used requests go first.",
    )
    long_poll_max_seconds: float = Field(default=60.0, ge=0, le=3600)
    sse_max_seconds: float = Field(
        default=600.0, gt=0, description="An event stream ends after this long; clients reconnect."
    )
    sse_ping_seconds: float = Field(default=15.0, gt=0)
    sse_unknown_grace_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long /events waits for an unknown ID to appear before answering 404.",
    )
    consumer_retry_max_seconds: float = Field(
        default=10.0, gt=0, description="Longest back-off between broker reconnection attempts."
    )
    broker_probe_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often the broker is asked for end offsets (lag, ready)."
    )
    results_busy_pause_ms: float = Field(
        default=10.0,
        ge=0,
        le=1000,
        description="While more than 100 records a second arrive, the view pauses this long "
        "after each batch so one fetch brings many (less CPU for it and the broker, at most "
        "this much more latency under load); 0 turns it off.",
    )
    log_level: str = "INFO"
    enable_metrics: bool = True
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"],
        description="Origins whose pages may read results. CORS allows GET and HEAD only, "
        "without credentials, so '*' lets a page read what curl can and no more (DELETE's "
        "preflight is refused); the studio page on the ingress's origin needs it. An empty "
        "value turns CORS off.",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # "a,b" in the environment; a JSON list is accepted too, for symmetry with other services.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @field_validator("results_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
