"""API keys on the HTTP services (``service_common.auth``) without a broker: the bearer
check on the real ingress app, the bind rule, the OpenAPI documents, the per-key names."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from producer_api.core.config import Settings
from producer_api.limits import client_of
from producer_api.main import create_app
from producer_api.routes.interrogate import key_session
from schemas.api_keys import KeysFileError, create_key, revoke_key
from service_common.auth import (
    API_KEY_ID_STATE,
    OPEN_PATHS,
    SECURITY_SCHEME,
    BindRefusedError,
    bind_host,
    is_loopback,
)
from tests.unit.test_openapi import load

# -------------------------------------------------------------------------- the check


@pytest.fixture
def keys_path(tmp_path: Path) -> Path:
    return tmp_path / "keys.json"


@pytest.fixture
def key(keys_path: Path) -> tuple[str, str]:
    """A key in the file and its id."""
    made, record = create_key(keys_path, "tests")
    return made, record.id


@pytest.fixture
async def ingress(
    keys_path: Path, key: tuple[str, str]
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    app = create_app(
        Settings(kmidi_api_keys_file=keys_path, idempotency_db=keys_path.with_suffix(".db")),
        configure_logs=False,
    )
    # ASGITransport runs no lifespan: no Kafka client starts; the check answers first.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as client:
        yield client, key[0]


PROTECTED = [
    ("POST", "/v1/generate"),
    ("POST", "/generate"),
    ("POST", "/v1/interrogate"),
    ("POST", "/interrogate"),
    ("GET", "/v1/emotions"),
    ("GET", "/emotions"),
    ("GET", "/no/such/path"),
]


async def test_no_key_is_a_401_with_the_request_id(
    ingress: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = ingress
    for method, path in PROTECTED:
        request_id = f"no-key-{len(path)}"
        answer = await client.request(
            method, path, json={"x": 1}, headers={"X-Request-ID": request_id}
        )
        assert answer.status_code == 401, (path, answer.text)
        body = answer.json()
        assert body["request_id"] == answer.headers["x-request-id"] == request_id
        assert body["error"]["code"] == "unauthorized"
        assert "Authorization: Bearer" in body["error"]["message"]
        assert answer.headers["www-authenticate"] == 'Bearer realm="kmidi"'
    # Refused before routing, yet counted under the route's template, not <unmatched>.
    metrics = (await client.get("/metrics")).text
    assert 'route="/v1/emotions",status_class="4xx"' in metrics


@pytest.mark.parametrize(
    ("header", "challenge"),
    [
        ("Bearer kmidi_000000000000_" + "A" * 43, "invalid_token"),
        ("Bearer wrong", "invalid_token"),
        ("Basic dXNlcjpwYXNz", "invalid_request"),
        ("Bearer", "invalid_request"),
    ],
)
async def test_a_wrong_key_is_a_401(
    ingress: tuple[httpx.AsyncClient, str], header: str, challenge: str
) -> None:
    client, _ = ingress
    answer = await client.get("/v1/emotions", headers={"Authorization": header})
    assert answer.status_code == 401
    assert f'error="{challenge}"' in answer.headers["www-authenticate"]
    assert answer.json()["request_id"] == answer.headers["x-request-id"]


async def test_the_key_opens_every_route_and_probes_need_none(
    ingress: tuple[httpx.AsyncClient, str],
) -> None:
    client, key = ingress
    for scheme in ("Bearer", "bearer"):
        answer = await client.get("/v1/emotions", headers={"Authorization": f"{scheme} {key}"})
        assert answer.status_code == 200, answer.text
    unknown = await client.get("/no/such/path", headers={"Authorization": f"Bearer {key}"})
    assert unknown.status_code == 404
    for path in ("/health", "/live", "/metrics", "/openapi.json", "/docs", "/"):
        assert (await client.get(path)).status_code in (200, 503), path
    assert (await client.get("/studio/studio.js")).status_code == 200
    page = (await client.get("/")).text
    assert 'data-api-keys="on"' in page


async def test_revoking_the_key_closes_the_next_request(
    ingress: tuple[httpx.AsyncClient, str], keys_path: Path, key: tuple[str, str]
) -> None:
    client, _ = ingress
    headers = {"Authorization": f"Bearer {key[0]}"}
    assert (await client.get("/v1/emotions", headers=headers)).status_code == 200
    await asyncio.to_thread(revoke_key, keys_path, key[1])
    answer = await client.get("/v1/emotions", headers=headers)
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


async def test_an_unreadable_keys_file_fails_closed_with_503(
    ingress: tuple[httpx.AsyncClient, str], keys_path: Path
) -> None:
    client, key = ingress
    await asyncio.to_thread(keys_path.unlink)
    answer = await client.get("/v1/emotions", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "auth_unavailable"
    assert (await client.get("/health")).status_code == 200


def test_a_service_with_a_missing_keys_file_does_not_start(tmp_path: Path) -> None:
    with pytest.raises(KeysFileError):
        create_app(Settings(kmidi_api_keys_file=tmp_path / "absent.json"), configure_logs=False)


async def test_without_keys_nothing_is_asked(tmp_path: Path) -> None:
    app = create_app(Settings(idempotency_db=tmp_path / "i.db"), configure_logs=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as client:
        assert (await client.get("/v1/emotions")).status_code == 200
        assert 'data-api-keys="off"' in (await client.get("/")).text


# -------------------------------------------------------------------------- per key


def _request(key_id: str | None, client: str = "10.0.0.7") -> Request:
    state = {} if key_id is None else {API_KEY_ID_STATE: key_id}
    scope = {"type": "http", "headers": [], "client": (client, 1234), "state": state}
    return Request(scope)


def test_rate_limits_count_per_key_with_keys_and_per_address_without() -> None:
    assert client_of(_request("aaaaaaaaaaaa")) == "key:aaaaaaaaaaaa"
    assert client_of(_request("bbbbbbbbbbbb")) != client_of(_request("aaaaaaaaaaaa"))
    assert client_of(_request("aaaaaaaaaaaa", "10.0.0.8")) == "key:aaaaaaaaaaaa"
    assert client_of(_request(None)) == "10.0.0.7"


def test_each_key_has_its_own_conversations() -> None:
    assert key_session(None, "s1") == "s1"
    a, b = key_session("aaaaaaaaaaaa", "s1"), key_session("bbbbbbbbbbbb", "s1")
    assert a != b
    assert a == "aaaaaaaaaaaa.s1"
    long = "x" * 64
    scoped = key_session("aaaaaaaaaaaa", long)
    assert len(scoped) == 64
    assert scoped.startswith("aaaaaaaaaaaa.")
    assert scoped != key_session("aaaaaaaaaaaa", "y" * 64)
    assert scoped != key_session("bbbbbbbbbbbb", long)


# -------------------------------------------------------------------------- binding


@pytest.mark.parametrize(
    ("host", "keys", "anonymous", "expected"),
    [
        (None, False, False, "127.0.0.1"),
        ("127.0.0.1", False, False, "127.0.0.1"),
        ("::1", False, False, "::1"),
        ("localhost", False, False, "localhost"),
        (None, True, False, "0.0.0.0"),
        ("0.0.0.0", True, False, "0.0.0.0"),
        (None, False, True, "0.0.0.0"),
        ("10.1.2.3", False, True, "10.1.2.3"),
    ],
)
def test_where_a_service_listens(
    host: str | None, keys: bool, anonymous: bool, expected: str
) -> None:
    chosen, sentence = bind_host(
        "the ingress",
        host,
        keys_file=Path("/k.json") if keys else None,
        allow_anonymous=anonymous,
        host_variable="API_HOST",
    )
    assert chosen == expected
    assert chosen in sentence
    if not keys:
        assert "API keys" in sentence


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "kmidi.example.com", "[::]"])
def test_listening_beyond_loopback_without_keys_is_refused(host: str) -> None:
    with pytest.raises(BindRefusedError) as refused:
        bind_host(
            "the ingress", host, keys_file=None, allow_anonymous=False, host_variable="API_HOST"
        )
    message = str(refused.value)
    assert host in message
    for way_out in ("KMIDI_API_KEYS_FILE", "KMIDI_ALLOW_ANONYMOUS=true", "API_HOST"):
        assert way_out in message


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.1", "::1", "[::1]", "LOCALHOST"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.2", "example.com", ""))


# -------------------------------------------------------------------------- OpenAPI


@pytest.mark.parametrize("service", ["ingress", "results"])
def test_the_documents_require_the_key_everywhere_but_probes(service: str) -> None:
    document = load(service)
    scheme = document["components"]["securitySchemes"][SECURITY_SCHEME]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    protected = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path in OPEN_PATHS:
                assert "security" not in operation, (path, method)
                assert "401" not in operation["responses"], (path, method)
                continue
            protected += 1
            assert operation["security"] == [{SECURITY_SCHEME: []}], (path, method)
            unauthorized = operation["responses"]["401"]
            assert "WWW-Authenticate" in unauthorized["headers"], (path, method)
            schema = unauthorized["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    assert protected >= 4
