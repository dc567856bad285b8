"""How every kmidi client reaches Kafka: one settings model, one factory per client kind.

Modelled on quix-streams' ``ConnectionConfig``: bootstrap servers, security protocol, SASL
(PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and TLS (CA bundle, client certificate and key),
secrets as ``SecretStr``. Every field reads ``KAFKA_<FIELD>`` from the environment; the
two secrets can instead come from a file named by ``KAFKA_SASL_PASSWORD_FILE`` or
``KAFKA_SSL_KEY_PASSWORD_FILE`` (Kubernetes and Docker secrets are files).

It lives in ``schemas`` because that is the one package every other may import: the
ingress, the worker, the results service, ``service_common`` and the ``kmidi`` command's
stdlib probe. So it imports no Kafka client at module level; only ``faust_settings``
loads faust, when the worker calls it.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, FilePath, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

_SECRET_FILES = {"sasl_password": "sasl_password_file", "ssl_key_password": "ssl_key_password_file"}


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class KafkaConnection(BaseSettings):
    """Where the Kafka cluster is and how to authenticate to it (``KAFKA_*`` variables)."""

    # Errors name the variable; the input they would echo holds the passwords.
    model_config = SettingsConfigDict(
        env_prefix="KAFKA_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        min_length=1,
        description="host:port[,host:port…] of the Kafka cluster.",
    )
    security_protocol: Annotated[SecurityProtocol, BeforeValidator(_upper)] = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    sasl_mechanism: Annotated[SaslMechanism | None, BeforeValidator(_upper)] = Field(
        default=None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_* only)."
    )
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: FilePath | None = Field(
        default=None, description="A file holding the SASL password (instead of the variable)."
    )
    ssl_ca_location: FilePath | None = Field(
        default=None, description="PEM CA bundle to verify the brokers; default: the system's."
    )
    ssl_certificate_location: FilePath | None = Field(
        default=None, description="PEM client certificate (mutual TLS)."
    )
    ssl_key_location: FilePath | None = Field(
        default=None, description="PEM private key of the client certificate."
    )
    ssl_key_password: SecretStr | None = None
    ssl_key_password_file: FilePath | None = None
    ssl_check_hostname: bool = Field(
        default=True,
        description="Check that the broker's certificate names the host connected to.",
    )

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for secret, file_field in _SECRET_FILES.items():
            path = data.get(file_field)
            if path is None:
                continue
            if data.get(secret) is not None:
                raise ValueError(
                    f"KAFKA_{secret.upper()} and KAFKA_{file_field.upper()} are both set; set one"
                )
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"KAFKA_{file_field.upper()}: cannot read {path}: {exc}") from exc
            # Secret files usually end with a newline that is not part of the secret.
            data = {**data, secret: text.rstrip("\r\n")}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> KafkaConnection:
        sasl = self.security_protocol.startswith("SASL_")
        if sasl:
            missing = [
                f"KAFKA_{name.upper()}"
                for name in ("sasl_mechanism", "sasl_username", "sasl_password")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(
                    f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs {', '.join(missing)}"
                )
        elif self.sasl_mechanism or self.sasl_username or self.sasl_password:
            raise ValueError(
                "SASL settings are set but KAFKA_SECURITY_PROTOCOL="
                f"{self.security_protocol} sends no credentials; use SASL_SSL or SASL_PLAINTEXT"
            )
        tls_files = self.ssl_ca_location or self.ssl_certificate_location or self.ssl_key_location
        if tls_files and not self.uses_tls:
            raise ValueError(
                "KAFKA_SSL_* files are set but KAFKA_SECURITY_PROTOCOL="
                f"{self.security_protocol} does not use TLS; use SSL or SASL_SSL"
            )
        if self.ssl_key_location and not self.ssl_certificate_location:
            raise ValueError("KAFKA_SSL_KEY_LOCATION needs KAFKA_SSL_CERTIFICATE_LOCATION")
        return self

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def with_bootstrap(self, bootstrap_servers: str) -> KafkaConnection:
        """The same security settings for another cluster address."""
        return self.model_copy(update={"bootstrap_servers": bootstrap_servers})

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context for SSL and SASL_SSL (a new one each call); else None."""
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(
            cafile=str(self.ssl_ca_location) if self.ssl_ca_location else None
        )
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certificate_location:
            password = self.ssl_key_password
            context.load_cert_chain(
                str(self.ssl_certificate_location),
                str(self.ssl_key_location) if self.ssl_key_location else None,
                password.get_secret_value() if password else None,
            )
        return context

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Connection arguments of ``AIOKafkaProducer``, ``AIOKafkaConsumer`` and
        ``AIOKafkaAdminClient`` (aiokafka gives all three the same ones)."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.uses_tls:
            kwargs["ssl_context"] = self.ssl_context()
        if self.sasl_password is not None:
            kwargs.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password.get_secret_value(),
            )
        return kwargs

    def faust_settings(self) -> dict[str, Any]:
        """``broker`` and ``broker_credentials`` for ``faust.App``."""
        # Imported here so that the ingress and the kmidi command never load faust.
        from faust.auth import SASLCredentials, SSLCredentials

        credentials: Any = None
        if self.sasl_password is not None:
            credentials = SASLCredentials(
                username=self.sasl_username,
                password=self.sasl_password.get_secret_value(),
                mechanism=self.sasl_mechanism,
                ssl_context=self.ssl_context(),
            )
        elif self.uses_tls:
            credentials = SSLCredentials(self.ssl_context())
        return {
            "broker": [
                f"kafka://{item.strip()}"
                for item in self.bootstrap_servers.split(",")
                if item.strip()
            ],
            "broker_credentials": credentials,
        }
