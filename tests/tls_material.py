"""Throw-away TLS material made with the openssl command: a CA, a broker and a client.

The broker gets a PKCS#12 keystore for 127.0.0.1 and trusts the CA (PEM truststore); the
client gets the CA bundle and a certificate whose key is encrypted with a password, so
every ``KAFKA_SSL_*`` setting is exercised.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """Paths of the files ``make_tls_material`` wrote, and the passwords that open them."""

    ca: Path
    broker_keystore: Path
    keystore_password: str
    client_certificate: Path
    client_key: Path
    client_key_password: str


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, f"openssl {' '.join(args)} failed:\n{result.stderr}"


def _signed(name: str, subject: str, cwd: Path, *, extensions: str) -> None:
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=cwd,
    )  # fmt: skip
    (cwd / f"{name}.ext").write_text(extensions, encoding="utf-8")
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext",
        cwd=cwd,
    )  # fmt: skip


def make_tls_material(directory: Path) -> TlsMaterial:
    """A CA, a broker keystore for 127.0.0.1 and a client certificate, in ``directory``."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed: run scripts/ensure-system-deps.sh --test")
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=kmidi test CA", cwd=directory,
    )  # fmt: skip
    _signed(
        "broker",
        "/CN=127.0.0.1",
        directory,
        extensions="subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    keystore_password = "broker-keystore-secret"
    _openssl(
        "pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key", "-name", "broker",
        "-out", "broker.p12", "-passout", f"pass:{keystore_password}", cwd=directory,
    )  # fmt: skip
    _signed("client", "/CN=kmidi", directory, extensions="extendedKeyUsage=clientAuth\n")
    key_password = "client-key-secret"
    _openssl(
        "pkcs8", "-topk8", "-in", "client.key", "-out", "client-encrypted.key",
        "-passout", f"pass:{key_password}", cwd=directory,
    )  # fmt: skip
    return TlsMaterial(
        ca=directory / "ca.pem",
        broker_keystore=directory / "broker.p12",
        keystore_password=keystore_password,
        client_certificate=directory / "client.pem",
        client_key=directory / "client-encrypted.key",
        client_key_password=key_password,
    )
