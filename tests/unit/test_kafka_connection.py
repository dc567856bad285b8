"""KafkaConnection: the KAFKA_* variables, secrets from files, clear errors, client kwargs."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import AuthProtocol, SASLMechanism
from pydantic import ValidationError

from producer_api.core.config import Settings as IngressSettings
from schemas.kafka_connection import KafkaConnection
from stream_processors.config import WorkerSettings
from stream_processors.results_service.config import Settings as ResultsSettings
from tests.tls_material import TlsMaterial, make_tls_material

SASL_ENV = {
    "KAFKA_BOOTSTRAP_SERVERS": "broker-1:9093,broker-2:9093",
    "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
    "KAFKA_SASL_MECHANISM": "scram-sha-512",
    "KAFKA_SASL_USERNAME": "kmidi",
}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "KAFKA_BOOTSTRAP_SERVERS",
        "KAFKA_SECURITY_PROTOCOL",
        "KAFKA_SASL_MECHANISM",
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
        "KAFKA_SASL_PASSWORD_FILE",
        "KAFKA_SSL_CA_LOCATION",
        "KAFKA_SSL_CERTIFICATE_LOCATION",
        "KAFKA_SSL_KEY_LOCATION",
        "KAFKA_SSL_KEY_PASSWORD",
        "KAFKA_SSL_KEY_PASSWORD_FILE",
        "KAFKA_SSL_CHECK_HOSTNAME",
    ):
        monkeypatch.delenv(name, raising=False)


def set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_default_is_plaintext_on_the_local_broker() -> None:
    connection = KafkaConnection()
    assert connection.bootstrap_servers == "127.0.0.1:9092"
    assert connection.aiokafka_kwargs() == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert connection.ssl_context() is None
    assert connection.faust_settings() == {
        "broker": ["kafka://127.0.0.1:9092"],
        "broker_credentials": None,
    }


def test_every_service_reads_the_same_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {**SASL_ENV, "KAFKA_SASL_PASSWORD": "s3cret"})
    for settings in (IngressSettings(), WorkerSettings(), ResultsSettings()):
        assert settings.kafka.bootstrap_servers == "broker-1:9093,broker-2:9093"
        assert settings.kafka.security_protocol == "SASL_SSL"
        assert settings.kafka.sasl_mechanism == "SCRAM-SHA-512"


def test_sasl_password_from_a_file_without_its_newline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-a-file\n", encoding="utf-8")
    set_env(monkeypatch, {**SASL_ENV, "KAFKA_SASL_PASSWORD_FILE": str(secret)})

    kwargs = KafkaConnection().aiokafka_kwargs()

    assert kwargs["sasl_plain_password"] == "from-a-file"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "kmidi"
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)


def test_secrets_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {**SASL_ENV, "KAFKA_SASL_PASSWORD": "do-not-log-me"})
    connection = KafkaConnection()
    assert "do-not-log-me" not in repr(connection)
    assert "do-not-log-me" not in str(IngressSettings())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({}, "KAFKA_SASL_PASSWORD"),
        (
            {"KAFKA_SASL_PASSWORD": "a", "KAFKA_SASL_PASSWORD_FILE": "/etc/hostname"},
            "both set",
        ),
        ({"KAFKA_SASL_PASSWORD_FILE": "/nonexistent/password"}, "/nonexistent/password"),
        ({"KAFKA_SASL_PASSWORD": "a", "KAFKA_SASL_MECHANISM": "GSSAPI"}, "SCRAM-SHA-512"),
        ({"KAFKA_SASL_PASSWORD": "a", "KAFKA_SECURITY_PROTOCOL": "TLS"}, "SASL_SSL"),
    ],
)
def test_incomplete_or_unknown_settings_fail_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, str], message: str
) -> None:
    set_env(monkeypatch, {**SASL_ENV, **extra})
    with pytest.raises(ValidationError, match=message):
        KafkaConnection()


def test_errors_do_not_echo_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {**SASL_ENV, "KAFKA_SASL_PASSWORD": "do-not-log-me"})
    monkeypatch.delenv("KAFKA_SASL_MECHANISM")
    with pytest.raises(ValidationError, match="KAFKA_SASL_MECHANISM") as caught:
        KafkaConnection()
    assert "do-not-log-me" not in str(caught.value)


def test_credentials_without_a_sasl_protocol_are_refused() -> None:
    with pytest.raises(ValidationError, match="sends no credentials"):
        KafkaConnection(sasl_username="kmidi", sasl_password="x")


def test_tls_files_without_a_tls_protocol_are_refused(tls: TlsMaterial) -> None:
    with pytest.raises(ValidationError, match="does not use TLS"):
        KafkaConnection(ssl_ca_location=tls.ca)


def test_mutual_tls_context_loads_the_encrypted_client_key(
    monkeypatch: pytest.MonkeyPatch, tls: TlsMaterial, tmp_path: Path
) -> None:
    key_password = tmp_path / "key-password"
    key_password.write_text(tls.client_key_password, encoding="utf-8")
    set_env(
        monkeypatch,
        {
            "KAFKA_SECURITY_PROTOCOL": "SSL",
            "KAFKA_SSL_CA_LOCATION": str(tls.ca),
            "KAFKA_SSL_CERTIFICATE_LOCATION": str(tls.client_certificate),
            "KAFKA_SSL_KEY_LOCATION": str(tls.client_key),
            "KAFKA_SSL_KEY_PASSWORD_FILE": str(key_password),
        },
    )
    connection = KafkaConnection()
    context = connection.ssl_context()

    assert context is not None
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [cert["subject"] for cert in context.get_ca_certs()] == [
        ((("commonName", "kmidi test CA"),),)
    ]
    credentials = connection.faust_settings()["broker_credentials"]
    assert isinstance(credentials, SSLCredentials)
    assert credentials.protocol is AuthProtocol.SSL


def test_a_wrong_key_password_fails_when_the_context_is_built(tls: TlsMaterial) -> None:
    connection = KafkaConnection(
        security_protocol="SSL",
        ssl_certificate_location=tls.client_certificate,
        ssl_key_location=tls.client_key,
        ssl_key_password="wrong",
    )
    with pytest.raises(ssl.SSLError):
        connection.ssl_context()


def test_faust_gets_sasl_credentials_over_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {**SASL_ENV, "KAFKA_SASL_PASSWORD": "s3cret"})
    settings = KafkaConnection().faust_settings()

    assert settings["broker"] == ["kafka://broker-1:9093", "kafka://broker-2:9093"]
    credentials = settings["broker_credentials"]
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol is AuthProtocol.SASL_SSL
    assert credentials.mechanism is SASLMechanism.SCRAM_SHA_512
    assert (credentials.username, credentials.password) == ("kmidi", "s3cret")


def test_with_bootstrap_keeps_the_security_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {**SASL_ENV, "KAFKA_SASL_PASSWORD": "s3cret"})
    moved = KafkaConnection().with_bootstrap("127.0.0.1:19093")
    assert moved.bootstrap_servers == "127.0.0.1:19093"
    assert moved.aiokafka_kwargs()["sasl_plain_password"] == "s3cret"
