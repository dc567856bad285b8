"""Ingress settings from the environment: the seed service's variables plus Kafka and limits."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from kmidi.cli.broker import stack_data_dir
from schemas.kafka_connection import KafkaConnection
from service_common.http import DEFAULT_MAX_BODY_BYTES

PositiveSeconds = Annotated[float, Field(gt=0, le=300)]


class Settings(BaseSettings):
    """Every field reads the environment variable of the same name in upper case."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    # The seed service's variables, same names and defaults.
    log_level: str = Field(default="INFO", description="Log level of every logger.")
    api_host: str | None = Field(
        default=None,
        description="Interface uvicorn binds: default 0.0.0.0 with API keys (or "
        "KMIDI_ALLOW_ANONYMOUS=true), else 127.0.0.1; another address without keys is refused.",
    )
    api_port: Annotated[int, Field(ge=1, le=65535)] = 8000
    api_workers: Annotated[int, Field(ge=1, le=64)] = Field(
        default=4, description="uvicorn worker processes; each has its own Kafka producer."
    )
    reload: bool = Field(default=False, description="uvicorn auto-reload (development only).")
    cors_origins: str = Field(default="*", description="Comma-separated allowed origins.")
    enable_metrics: bool = Field(default=True, description="Serve GET /metrics.")

    kmidi_api_keys_file: Path | None = Field(
        default=None,
        description="API keys file (`kmidi keys create`): when set, every route but the "
        "probes, /metrics, the API documents and the studio's files needs a key.",
    )
    kmidi_allow_anonymous: bool = Field(
        default=False,
        description="Allow listening beyond 127.0.0.1 without API keys.",
    )

    kafka: KafkaConnection = Field(
        default_factory=KafkaConnection,
        description="KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*.",
    )
    kafka_client_id: str = "kmidi-producer-api"
    kafka_connect_timeout_seconds: PositiveSeconds = Field(
        default=5.0,
        description="How long start-up waits for the broker before serving anyway "
        "(not ready; it keeps connecting in the background).",
    )
    results_base_url: str = Field(
        default="http://127.0.0.1:8001",
        description="Base URL of the results service, for status_url and result_url.",
    )
    kafka_linger_ms: Annotated[int, Field(ge=0, le=1000)] = Field(
        default=0,
        description="How long the producer holds a record to batch it with others. 0: a "
        "request waits for no timer; records that arrive while a request to the broker is "
        "in flight are still batched together.",
    )
    publish_timeout_seconds: PositiveSeconds = Field(
        default=5.0, description="Longest wait for the broker's acknowledgement (then 503)."
    )
    interrogate_timeout_seconds: PositiveSeconds = Field(
        default=10.0, description="Longest wait for the interrogation stage's reply (then 504)."
    )
    ready_max_age_seconds: PositiveSeconds = Field(
        default=5.0, description="/ready trusts a broker metadata answer this long."
    )
    rate_limit_enabled: bool = True
    rate_limit_generate: str = Field(
        default="60/minute",
        description="slowapi/limits syntax, per API key (per client address without keys).",
    )
    rate_limit_interrogate: str = "120/minute"
    max_body_bytes: Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)] = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        description="Larger request bodies get 413 (the default holds every valid body).",
    )
    idempotency_store: Literal["sqlite", "kafka"] = Field(
        default="sqlite",
        description="Where Idempotency-Key claims live: `sqlite` (IDEMPOTENCY_DB, shared by "
        "the processes of one host) or `kafka` (the kmidi.idempotency.v1 topic, shared by "
        "every ingress replica; use it with more than one host).",
    )
    idempotency_db: Path | None = Field(
        default=None,
        description="SQLite file of Idempotency-Key claims, shared by the ingress processes "
        "of a host; default <KMIDI_DATA_DIR or the cache>/stack-data/ingress-idempotency.sqlite3.",
    )
    idempotency_retention_seconds: Annotated[float, Field(gt=0, le=30 * 86400)] = Field(
        default=24 * 3600.0, description="How long an Idempotency-Key is remembered."
    )

    @property
    def idempotency_path(self) -> Path:
        return self.idempotency_db or stack_data_dir() / "ingress-idempotency.sqlite3"

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    def status_url(self, request_id: str) -> str:
        return f"{self.results_base_url.rstrip('/')}/v1/results/{request_id}"

    def result_url(self, request_id: str) -> str:
        return f"{self.status_url(request_id)}/midi"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
