"""Kafka security end to end: an embedded broker with SASL_SSL, SASL_PLAINTEXT and SSL listeners.

The broker's certificate comes from a CA made here with openssl; its TLS listeners require
a client certificate too (mutual TLS). SCRAM users are made by Kafka's own ``StorageTool
format --add-scram``, the PLAIN user by its JAAS configuration. Every kmidi process gets
only the KAFKA_* variables; the whole pipeline runs over SASL_SSL with SCRAM-SHA-512.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

from kmidi.cli.broker import EmbeddedKafka, free_port
from kmidi.cli.kafka_probe import ProbeError, fetch_brokers
from schemas.kafka_connection import KafkaConnection
from tests.e2e.stack_process import start_stack
from tests.tls_material import TlsMaterial, make_tls_material

pytestmark = pytest.mark.e2e

USER = "kmidi-pipeline"
PASSWORD = "scram-secret-7"
MECHANISM = "SCRAM-SHA-512"
"""The pipeline's mechanism; the broker also offers PLAIN and SCRAM-SHA-256."""
DEADLINE = 60.0
"""The test's own bound on how long a misconfigured service may take to say so."""
SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
PLAIN_LOGIN = (
    f'org.apache.kafka.common.security.plain.PlainLoginModule required user_{USER}="{PASSWORD}";'
)


@dataclass(frozen=True, slots=True)
class SecureBroker:
    broker: EmbeddedKafka
    tls: TlsMaterial

    @property
    def bootstrap(self) -> str:
        return self.broker.listener_bootstrap("SASL_SSL")

    def client_env(
        self,
        password_file: Path,
        *,
        protocol: str = "SASL_SSL",
        mechanism: str | None = MECHANISM,
    ) -> dict[str, str]:
        """What an operator sets for every kmidi process."""
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.listener_bootstrap(protocol),
            "KAFKA_SECURITY_PROTOCOL": protocol,
        }
        if mechanism is not None:
            env.update(
                KAFKA_SASL_MECHANISM=mechanism,
                KAFKA_SASL_USERNAME=USER,
                KAFKA_SASL_PASSWORD_FILE=str(password_file),
            )
        if protocol.endswith("SSL"):
            env.update(
                KAFKA_SSL_CA_LOCATION=str(self.tls.ca),
                KAFKA_SSL_CERTIFICATE_LOCATION=str(self.tls.client_certificate),
                KAFKA_SSL_KEY_LOCATION=str(self.tls.client_key),
                KAFKA_SSL_KEY_PASSWORD=self.tls.client_key_password,
            )
        return env


def listener_properties(tls: TlsMaterial) -> dict[str, str]:
    properties = {"sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"}
    for listener in ("sasl_ssl", "sasl_plaintext"):
        prefix = f"listener.name.{listener}."
        properties[f"{prefix}plain.sasl.jaas.config"] = PLAIN_LOGIN
        properties[f"{prefix}scram-sha-256.sasl.jaas.config"] = SCRAM_LOGIN
        properties[f"{prefix}scram-sha-512.sasl.jaas.config"] = SCRAM_LOGIN
    for listener in ("sasl_ssl", "ssl"):
        prefix = f"listener.name.{listener}."
        properties[f"{prefix}ssl.keystore.type"] = "PKCS12"
        properties[f"{prefix}ssl.keystore.location"] = str(tls.broker_keystore)
        properties[f"{prefix}ssl.keystore.password"] = tls.keystore_password
        properties[f"{prefix}ssl.truststore.type"] = "PEM"
        properties[f"{prefix}ssl.truststore.location"] = str(tls.ca)
        properties[f"{prefix}ssl.client.auth"] = "required"
    return properties


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    tls = make_tls_material(tmp_path_factory.mktemp("tls"))
    scram_users = [
        argument
        for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512")
        for argument in ("--add-scram", f"{mechanism}=[name={USER},password={PASSWORD}]")
    ]
    broker = EmbeddedKafka(
        heap="512m",
        listeners={"SASL_SSL": free_port(), "SASL_PLAINTEXT": free_port(), "SSL": free_port()},
        properties=listener_properties(tls),
        format_args=scram_users,
    )
    broker.start()
    try:
        yield SecureBroker(broker, tls)
    finally:
        broker.stop()


def password_file(directory: Path, password: str) -> Path:
    path = directory / f"password-{uuid.uuid4().hex[:6]}"
    path.write_text(password + "\n", encoding="utf-8")
    return path


def run_module(env: dict[str, str], module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` with ``env`` added, bounded by the test's DEADLINE."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


def connection(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> KafkaConnection:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return KafkaConnection()


@pytest.mark.parametrize(
    ("protocol", "mechanism"),
    [
        ("SASL_SSL", "PLAIN"),
        ("SASL_SSL", "SCRAM-SHA-256"),
        ("SASL_SSL", "SCRAM-SHA-512"),
        ("SASL_PLAINTEXT", "PLAIN"),
        ("SASL_PLAINTEXT", "SCRAM-SHA-256"),
        ("SSL", None),
    ],
)
async def test_every_protocol_and_mechanism_connects_through_the_probe_and_aiokafka(
    secure: SecureBroker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    protocol: str,
    mechanism: str | None,
) -> None:
    env = secure.client_env(
        password_file(tmp_path, PASSWORD), protocol=protocol, mechanism=mechanism
    )
    chosen = connection(env, monkeypatch)
    assert len(fetch_brokers(chosen, timeout=10)) == 1
    admin = AIOKafkaAdminClient(**chosen.aiokafka_kwargs(), client_id="kmidi-security-test")
    await admin.start()
    try:
        assert isinstance(await admin.list_topics(), list)
    finally:
        await admin.close()


def test_the_probe_authenticates_and_names_a_wrong_password(
    secure: SecureBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = connection(secure.client_env(password_file(tmp_path, PASSWORD)), monkeypatch)
    assert [broker.port for broker in fetch_brokers(good, timeout=10)] == [
        int(secure.bootstrap.rsplit(":", 1)[1])
    ]
    wrong = connection(secure.client_env(password_file(tmp_path, "not-it")), monkeypatch)
    with pytest.raises(ProbeError, match=f"SASL {MECHANISM} authentication failed"):
        fetch_brokers(wrong, timeout=10)
    status = run_module(
        secure.client_env(password_file(tmp_path, "not-it")), "kmidi.cli.main", "broker", "status"
    )
    assert status.returncode == 1
    assert "authentication failed" in status.stdout, status.stdout


def test_an_intent_completes_through_the_pipeline_over_sasl_ssl(
    secure: SecureBroker, tmp_path: Path
) -> None:
    env = secure.client_env(password_file(tmp_path, PASSWORD))
    stack = start_stack(tmp_path, bootstrap=secure.bootstrap, extra_env=env)
    try:
        request_id = f"sasl-{uuid.uuid4().hex[:8]}"
        accepted = httpx.post(
            f"{stack.api_url}/v1/generate",
            json={"intent": {"emotional_intent": "we won the championship!"}, "seed": 3},
            headers={"X-Request-ID": request_id},
            timeout=30,
        )
        assert accepted.status_code == 202, accepted.text
        status = httpx.get(
            f"{stack.results_url}/v1/results/{request_id}", params={"wait": 60}, timeout=90
        )
        assert status.json()["status"] == "completed", status.text
        midi = httpx.get(f"{stack.results_url}/v1/results/{request_id}/midi", timeout=30)
        assert midi.content.startswith(b"MThd")
    finally:
        stack.stop()


@pytest.mark.parametrize(
    ("module", "reason_of"),
    [
        ("producer_api", lambda body: body["error"]["message"]),
        ("stream_processors.results_service", lambda body: body["reason"]),
    ],
    ids=["ingress", "results"],
)
def test_wrong_credentials_make_a_service_not_ready_with_the_reason(
    secure: SecureBroker,
    tmp_path: Path,
    module: str,
    reason_of: Callable[[dict[str, Any]], str],
) -> None:
    port = free_port()
    env = {
        **os.environ,
        **secure.client_env(password_file(tmp_path, "not-the-password")),
        "API_HOST": "127.0.0.1",
        "API_PORT": str(port),
        "API_WORKERS": "1",
        "RESULTS_HOST": "127.0.0.1",
        "RESULTS_PORT": str(port),
    }
    with (tmp_path / "service.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            reason = poll_not_ready_reason(f"http://127.0.0.1:{port}/ready", reason_of)
        finally:
            process.terminate()
            process.wait(30)
    assert "SaslAuthenticationFailed" in reason
    assert "invalid credentials" in reason


def poll_not_ready_reason(url: str, reason_of: Callable[[dict[str, Any]], str | None]) -> str:
    """The reason in the first 503 that gives one, polled until the test's DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    seen: list[object] = []
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=5)
        except httpx.TransportError as exc:
            seen.append(repr(exc))
        else:
            assert response.status_code == 503, response.text
            reason = reason_of(response.json())
            if reason and "Error" in reason:
                return reason
            seen.append(response.text)
        time.sleep(0.5)
    raise AssertionError(f"{url} gave no reason within {DEADLINE:g} s: {seen[-3:]}")


def test_topic_creation_with_wrong_credentials_fails_with_the_reason(
    secure: SecureBroker, tmp_path: Path
) -> None:
    env = secure.client_env(password_file(tmp_path, "not-the-password"))
    result = run_module(env, "stream_processors.topics", "create", "--timeout", "3")
    assert result.returncode == 1
    assert "SaslAuthenticationFailed" in result.stderr, result.stderr
    assert "invalid credentials" in result.stderr, result.stderr
