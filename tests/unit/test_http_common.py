"""service_common.http against a small app through httpx's ASGI transport (no server)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import StreamingResponse
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from service_common.http import ApiError, install_http_observability
from service_common.logging import JsonFormatter, request_id_var

LIMIT = 1024


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=100)
    bpm: int = Field(ge=40, le=240)


def build_app(*, enable_metrics: bool = True) -> tuple[FastAPI, CollectorRegistry]:
    registry = CollectorRegistry()
    app = FastAPI()

    @app.post("/echo")
    async def echo(body: Body, request: Request) -> dict[str, str | None]:
        return {"text": body.text, "context_id": request_id_var.get()}

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        if item_id == "missing":
            raise HTTPException(404, "no such item")
        return {"item_id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals at /srv/app.py line 3")

    @app.get("/busy")
    async def busy() -> None:
        raise ApiError(503, "broker_unavailable", "try later", headers={"Retry-After": "2"})

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for n in range(3):
                yield f"data: {n}\n\n".encode()

        return StreamingResponse(chunks(), media_type="text/event-stream")

    install_http_observability(
        app, service="test", enable_metrics=enable_metrics, max_body_bytes=LIMIT, registry=registry
    )
    return app, registry


@pytest.fixture
def app_and_registry() -> tuple[FastAPI, CollectorRegistry]:
    return build_app()


@pytest.fixture
async def client(
    app_and_registry: tuple[FastAPI, CollectorRegistry],
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_and_registry[0])
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_valid_request_id_is_echoed_and_bound(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/echo", json={"text": "hi", "bpm": 90}, headers={"X-Request-ID": "client.id-1_A"}
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "client.id-1_A"
    assert response.json()["context_id"] == "client.id-1_A"


@pytest.mark.parametrize("bad", ["has space", "x" * 65, "slash/y", "semi;colon", ""])
async def test_invalid_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/items/1", headers={"X-Request-ID": bad})
    assert response.status_code == 200
    new_id = response.headers["x-request-id"]
    assert new_id != bad
    assert len(new_id) == 32
    assert all(c in "0123456789abcdef" for c in new_id)


async def test_missing_request_id_is_generated_and_unique(client: httpx.AsyncClient) -> None:
    first = await client.get("/items/1")
    second = await client.get("/items/1")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_validation_error_has_request_id_and_does_not_echo_input(
    client: httpx.AsyncClient,
) -> None:
    huge = "Z" * 900
    response = await client.post(
        "/echo", json={"text": huge, "bpm": 500, "bmp": 1}, headers={"X-Request-ID": "abc"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["request_id"] == "abc"
    assert response.headers["x-request-id"] == "abc"
    assert body["error"]["code"] == "validation_error"
    assert huge not in response.text
    assert "ZZZZZZZZZZ" not in response.text
    locs = {tuple(d["loc"]) for d in body["details"]}
    assert {("body", "text"), ("body", "bpm"), ("body", "bmp")} <= locs
    for detail in body["details"]:
        assert set(detail) <= {"loc", "msg", "type", "ctx"}


async def test_invalid_json_is_422_invalid_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/echo", content=b'{"text": "hi", ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "invalid_json"
    assert body["request_id"] == response.headers["x-request-id"]


async def test_non_json_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/echo", content=b"text=hi", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


async def test_oversized_body_is_413_by_content_length(client: httpx.AsyncClient) -> None:
    payload = json.dumps({"text": "a" * (LIMIT * 4), "bpm": 90}).encode()
    response = await client.post(
        "/echo",
        content=payload,
        headers={"Content-Type": "application/json", "X-Request-ID": "big"},
    )
    assert response.status_code == 413
    assert response.json() == {
        "request_id": "big",
        "error": {
            "code": "payload_too_large",
            "message": f"request body larger than {LIMIT} bytes",
        },
    }
    assert response.headers["x-request-id"] == "big"


async def test_oversized_chunked_body_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b" " * 512

    response = await client.post(
        "/echo", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_http_exception_and_404_use_error_body(client: httpx.AsyncClient) -> None:
    missing = await client.get("/items/missing")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "not_found", "message": "no such item"}
    unknown = await client.get("/nowhere")
    assert unknown.status_code == 404
    assert unknown.json()["request_id"] == unknown.headers["x-request-id"]
    wrong_method = await client.delete("/items/1")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_api_error_keeps_code_and_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/busy")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"] == {"code": "broker_unavailable", "message": "try later"}


async def test_unexpected_exception_is_500_without_traceback(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="kmidi.http"):
        response = await client.get("/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.json() == {
        "request_id": "boom-1",
        "error": {"code": "internal_error", "message": "internal server error"},
    }
    assert "secret" not in response.text
    assert response.headers["x-request-id"] == "boom-1"
    assert any(r.exc_info for r in caplog.records), "traceback must be logged"


async def test_streaming_response_passes_through(client: httpx.AsyncClient) -> None:
    response = await client.get("/stream", headers={"X-Request-ID": "sse"})
    assert response.status_code == 200
    assert response.text == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert response.headers["x-request-id"] == "sse"


async def test_metrics_use_route_templates_only(
    client: httpx.AsyncClient, app_and_registry: tuple[FastAPI, CollectorRegistry]
) -> None:
    await client.get("/items/secret-id-123")
    await client.get("/does/not/exist/xyz")
    await client.post("/echo", json={"text": "x", "bpm": 1})
    big = json.dumps({"text": "a" * (LIMIT * 2)}).encode()
    await client.post("/echo", content=big, headers={"Content-Type": "application/json"})
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "kmidi_http_requests_total" in generate_latest(app_and_registry[1]).decode()
    assert (
        'kmidi_http_requests_total{method="GET",route="/items/{item_id}",status_class="2xx"} 1.0'
        in text
    )
    assert 'route="<unmatched>"' in text
    assert 'kmidi_http_requests_total{method="POST",route="/echo",status_class="4xx"} 2.0' in text
    assert "kmidi_http_request_duration_seconds_bucket" in text
    assert "secret-id-123" not in text
    assert "xyz" not in text


async def test_metrics_endpoint_can_be_disabled() -> None:
    app, _ = build_app(enable_metrics=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        response = await c.get("/metrics")
    assert response.status_code == 404


async def test_access_log_line_per_request(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="kmidi.http.access"):
        await client.get("/items/7", headers={"X-Request-ID": "log-me"})
    lines = [r for r in caplog.records if r.name == "kmidi.http.access"]
    assert len(lines) == 1
    record = lines[0]
    assert record.__dict__["route"] == "/items/{item_id}"
    assert record.__dict__["method"] == "GET"
    assert record.__dict__["status"] == 200
    assert record.__dict__["duration_seconds"] >= 0
    entry = json.loads(JsonFormatter("test").format(record))
    assert entry["request_id"] == "log-me"
