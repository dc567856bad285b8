"""API keys end to end on a real broker: the ingress (uvicorn in this process), a real stream
worker and the results service (processes), all reading one keys file.

Three keys: A and B are clients, C is revoked during the run. Request and session IDs are
unique per test, so other modules sharing the broker never collide with these.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from kmidi.cli.broker import free_port
from schemas.api_keys import create_key
from schemas.headers import API_KEY_ID
from schemas.kafka_connection import KafkaConnection
from schemas.topics import INTENTS, PLANS, RESULTS
from service_common.kafka_headers import headers_to_dict
from stream_processors.topics import ensure_topics
from tests.integration.conftest import ProducerFactory
from tests.integration.stream_helpers import headers_for, intent_event
from tests.integration.test_ingress import (
    SEED_BODY,
    TopicTail,
    ingress_settings,
    running_ingress,
)
from tests.integration.worker_process import WorkerProcess

ROOT = Path(__file__).resolve().parents[2]
PIECE_TIMEOUT = 90.0
START_TIMEOUT = 60.0
SHORT = {"intent": {"emotional_intent": "a quiet morning", "technical": {"length_bars": 2}}}


@dataclass(frozen=True)
class Keys:
    path: Path
    a: str
    a_id: str
    b: str
    b_id: str
    c: str
    c_id: str


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_id(label: str) -> str:
    return f"keys-{label}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    path = tmp_path_factory.mktemp("keys") / "api-keys.json"
    (a, ra), (b, rb), (c, rc) = (create_key(path, name) for name in ("a", "b", "c"))
    return Keys(path, a, ra.id, b, rb.id, c, rc.id)


@pytest.fixture(scope="module")
async def topics(kafka_connection: KafkaConnection) -> None:
    await ensure_topics(kafka_connection)


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, topics: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    base = tmp_path_factory.mktemp("keys-worker")
    process = WorkerProcess(
        bootstrap=kafka_bootstrap,
        app_id=f"kmidi-worker-keys-{uuid.uuid4().hex[:8]}",
        log_path=base / "worker.log",
        data_dir=base / "data",
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def service_env(bootstrap: str, **values: str) -> dict[str, str]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "LOG_LEVEL": "INFO",
        "API_WORKERS": "1",
        **values,
    }
    for name in ("KMIDI_API_KEYS_FILE", "KMIDI_ALLOW_ANONYMOUS", "API_HOST", "RESULTS_HOST"):
        if name not in values:
            env.pop(name, None)
    return env


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_service(module: str, env: dict[str, str], log_path: Path, port: int) -> Service:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Service(process, log_path, f"http://127.0.0.1:{port}")


async def wait_answering(service: Service, path: str) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            assert service.process.poll() is None, f"exited:\n{service.logs()[-3000:]}"
            try:
                answer = await client.get(f"{service.url}{path}")
                if answer.status_code == 200:
                    return answer.status_code
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{service.url}{path} not 200 in {START_TIMEOUT} s:\n{service.logs()}")


@pytest.fixture(scope="module")
async def results(
    kafka_bootstrap: str, topics: None, keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Service]:
    port = free_port()
    env = service_env(
        kafka_bootstrap,
        KMIDI_API_KEYS_FILE=str(keys.path),
        RESULTS_PORT=str(port),
        RESULTS_BASE_URL=f"http://127.0.0.1:{port}",
        LONG_POLL_MAX_SECONDS="90",
        SSE_UNKNOWN_GRACE_SECONDS="1",
    )
    log = tmp_path_factory.mktemp("keys-results") / "results.log"
    service = start_service("stream_processors.results_service", env, log, port)
    try:
        await wait_answering(service, "/ready")
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
async def ingress(
    kafka_bootstrap: str, topics: None, keys: Keys, results: Service
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ingress_settings(
        kafka_bootstrap, kmidi_api_keys_file=keys.path, results_base_url=results.url
    )
    async with running_ingress(settings) as client:
        yield client


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=PIECE_TIMEOUT + 15) as client:
        yield client


async def submit(ingress: httpx.AsyncClient, key: str, label: str) -> str:
    request_id = new_id(label)
    answer = await ingress.post(
        "/v1/generate", json=SHORT, headers={**bearer(key), "X-Request-ID": request_id}
    )
    assert answer.status_code == 202, answer.text
    return request_id


def assert_unauthorized(answer: httpx.Response, request_id: str, challenge: str | None) -> None:
    assert answer.status_code == 401, (answer.request.url, answer.text)
    assert answer.headers["x-request-id"] == request_id
    if answer.request.method != "HEAD":
        body = answer.json()
        assert body["request_id"] == request_id
        assert body["error"]["code"] == "unauthorized"
    expected = 'Bearer realm="kmidi"' + (f', error="{challenge}"' if challenge else "")
    assert answer.headers["www-authenticate"] == expected


# -------------------------------------------------------------------------- 401


async def test_no_key_or_a_wrong_key_gets_401_with_the_request_id_everywhere(
    ingress: httpx.AsyncClient, results: Service, http: httpx.AsyncClient, keys: Keys
) -> None:
    rid = new_id("probe")
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/generate", {"json": SEED_BODY}),
        ("POST", "/generate", {"json": SEED_BODY}),
        ("POST", "/v1/interrogate", {"json": {"message": "hello"}}),
        ("GET", "/v1/emotions", {}),
    ]
    result_paths = [
        ("GET", f"/v1/results/{rid}"),
        ("GET", f"/v1/results/{rid}?wait=5"),
        ("GET", f"/v1/results/{rid}/midi"),
        ("HEAD", f"/v1/results/{rid}/midi"),
        ("GET", f"/v1/results/{rid}/audio"),
        ("GET", f"/v1/results/{rid}/events"),
        ("DELETE", f"/v1/results/{rid}"),
    ]
    wrong = "kmidi_" + keys.a_id + "_" + "x" * 43  # a real id with the wrong secret
    for auth, challenge in (({}, None), (bearer(wrong), "invalid_token")):
        for method, path, kwargs in calls:
            request_id = new_id("401")
            answer = await ingress.request(
                method, path, headers={**auth, "X-Request-ID": request_id}, **kwargs
            )
            assert_unauthorized(answer, request_id, challenge)
        for method, path in result_paths:
            request_id = new_id("401")
            started = time.monotonic()
            answer = await http.request(
                method, f"{results.url}{path}", headers={**auth, "X-Request-ID": request_id}
            )
            assert time.monotonic() - started < 2, "refused before any waiting"
            assert_unauthorized(answer, request_id, challenge)
    # Probes and scrapes need no key.
    for path in ("/ready", "/live", "/health", "/metrics"):
        assert (await ingress.get(path)).status_code == 200, path
        assert (await http.get(f"{results.url}{path}")).status_code == 200, path


# -------------------------------------------------------------------------- ownership


async def test_a_result_is_readable_with_the_key_that_submitted_it_only(
    ingress: httpx.AsyncClient,
    results: Service,
    http: httpx.AsyncClient,
    worker: WorkerProcess,
    keys: Keys,
    consumer_factory: Callable[..., Any],
) -> None:
    plans = await TopicTail.open(consumer_factory, PLANS)
    results_topic = await TopicTail.open(consumer_factory, RESULTS)
    request_id = await submit(ingress, keys.a, "owned")
    status_url = f"{results.url}/v1/results/{request_id}"

    mine = await http.get(f"{status_url}?wait={PIECE_TIMEOUT:g}", headers=bearer(keys.a))
    assert mine.status_code == 200, mine.text
    assert mine.json()["status"] == "completed", mine.json()
    midi = await http.get(f"{status_url}/midi", headers=bearer(keys.a))
    assert midi.status_code == 200
    assert midi.content[:4] == b"MThd"

    # The worker carried the submitting key's id from the intent to what it published.
    for tail in (plans, results_topic):
        record = await tail.find(request_id)
        assert headers_to_dict(record.headers).get(API_KEY_ID) == keys.a_id, tail.topic

    for path in ("", "/midi", "/audio", "/events"):
        other = await http.get(f"{status_url}{path}", headers=bearer(keys.b))
        assert other.status_code == 404, (path, other.text)
        assert other.json()["error"]["code"] == "not_found"
    refused = await http.delete(status_url, headers=bearer(keys.b))
    assert refused.status_code == 404
    still = await http.get(status_url, headers=bearer(keys.a))
    assert still.status_code == 200, "B's DELETE took nothing away"
    deleted = await http.delete(status_url, headers=bearer(keys.a))
    assert deleted.status_code == 204
    gone = await http.get(status_url, headers=bearer(keys.a))
    assert gone.status_code == 404


async def test_a_request_written_to_kafka_without_a_key_is_shown_to_no_key(
    results: Service,
    http: httpx.AsyncClient,
    worker: WorkerProcess,
    keys: Keys,
    producer_factory: ProducerFactory,
    consumer_factory: Callable[..., Any],
) -> None:
    results_topic = await TopicTail.open(consumer_factory, RESULTS)
    request_id = new_id("anonymous")
    producer = await producer_factory()
    await producer.send_and_wait(
        INTENTS,
        intent_event(request_id, "a quiet morning", technical={"length_bars": 2}),
        key=request_id.encode(),
        headers=headers_for(request_id),
    )
    record = await results_topic.find(request_id, timeout=PIECE_TIMEOUT)
    assert API_KEY_ID not in headers_to_dict(record.headers)
    for key in (keys.a, keys.b):
        started = time.monotonic()
        answer = await http.get(
            f"{results.url}/v1/results/{request_id}?wait=3", headers=bearer(key)
        )
        assert answer.status_code == 404, answer.text
        assert time.monotonic() - started >= 2.9, "it waited as for an unknown ID"


# -------------------------------------------------------------------------- revocation


async def test_a_revoked_key_is_refused_at_once_without_a_restart(
    ingress: httpx.AsyncClient, results: Service, http: httpx.AsyncClient, keys: Keys
) -> None:
    unknown = f"{results.url}/v1/results/{new_id('nothing')}"
    assert (await ingress.get("/v1/emotions", headers=bearer(keys.c))).status_code == 200
    assert (await http.get(unknown, headers=bearer(keys.c))).status_code == 404
    revoked = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "kmidi.cli.main", "keys", "revoke", keys.c_id],
        env={**os.environ, "KMIDI_API_KEYS_FILE": str(keys.path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert revoked.returncode == 0, revoked.stderr
    request_id = new_id("revoked")
    answer = await ingress.get(
        "/v1/emotions", headers={**bearer(keys.c), "X-Request-ID": request_id}
    )
    assert_unauthorized(answer, request_id, "invalid_token")
    answer = await http.get(unknown, headers={**bearer(keys.c), "X-Request-ID": request_id})
    assert_unauthorized(answer, request_id, "invalid_token")
    assert (await ingress.get("/v1/emotions", headers=bearer(keys.a))).status_code == 200
    assert (await http.get(unknown, headers=bearer(keys.a))).status_code == 404


# -------------------------------------------------------------------------- per key


async def test_rate_limits_count_per_key(
    kafka_bootstrap: str, topics: None, keys: Keys, results: Service
) -> None:
    settings = ingress_settings(
        kafka_bootstrap,
        kmidi_api_keys_file=keys.path,
        results_base_url=results.url,
        rate_limit_generate="2/minute",
    )
    async with running_ingress(settings) as client:
        for _ in range(3):  # refused before the limit: not counted
            assert (await client.post("/v1/generate", json=SHORT)).status_code == 401
        first = await client.post("/v1/generate", json=SHORT, headers=bearer(keys.a))
        second = await client.post("/generate", json=SHORT, headers=bearer(keys.a))
        assert (first.status_code, second.status_code) == (202, 202)
        limited = await client.post(
            "/v1/generate", json=SHORT, headers={**bearer(keys.a), "X-Request-ID": "rl-a-3"}
        )
        assert limited.status_code == 429
        assert limited.json()["request_id"] == "rl-a-3"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # The same address with another key has its own budget.
        other = await client.post("/v1/generate", json=SHORT, headers=bearer(keys.b))
        assert other.status_code == 202, other.text


async def test_each_key_has_its_own_conversations_and_idempotency_keys(
    ingress: httpx.AsyncClient, worker: WorkerProcess, keys: Keys
) -> None:
    session = new_id("session")
    first = await ingress.post(
        "/v1/interrogate",
        json={"session_id": session, "message": "I lost my dad last spring"},
        headers=bearer(keys.a),
    )
    assert first.status_code == 200, first.text
    assert (first.json()["session_id"], first.json()["turn"]) == (session, 1)
    # B uses the same session ID: a conversation of its own, nothing of A's in it.
    other = await ingress.post(
        "/v1/interrogate",
        json={"session_id": session, "message": "we won the championship"},
        headers=bearer(keys.b),
    )
    assert other.status_code == 200, other.text
    answer = other.json()
    assert (answer["session_id"], answer["turn"]) == (session, 1)
    assert "dad" not in str(answer["intent"]) + str(answer["extracted"])
    again = await ingress.post(
        "/v1/interrogate",
        json={"session_id": session, "message": "slow piano, please"},
        headers=bearer(keys.a),
    )
    assert again.status_code == 200, again.text
    assert again.json()["turn"] == 2
    assert "championship" not in str(again.json()["intent"])

    same = {"Idempotency-Key": new_id("idem")}
    by_a = await ingress.post("/v1/generate", json=SHORT, headers={**bearer(keys.a), **same})
    by_b = await ingress.post("/v1/generate", json=SHORT, headers={**bearer(keys.b), **same})
    assert (by_a.status_code, by_b.status_code) == (202, 202)
    assert by_a.json()["request_id"] != by_b.json()["request_id"]
    assert "idempotent-replayed" not in by_b.headers, "B was not answered with A's request"
    replay = await ingress.post("/v1/generate", json=SHORT, headers={**bearer(keys.a), **same})
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == by_a.json()


# -------------------------------------------------------------------------- binding


@pytest.mark.parametrize(
    ("module", "host_variable"),
    [("producer_api", "API_HOST"), ("stream_processors.results_service", "RESULTS_HOST")],
)
async def test_without_keys_a_service_listens_on_loopback_only_unless_told(
    kafka_bootstrap: str,
    topics: None,
    tmp_path: Path,
    module: str,
    host_variable: str,
) -> None:
    port_variable = host_variable.replace("HOST", "PORT")
    refused = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", module],
        cwd=ROOT,
        env=service_env(kafka_bootstrap, **{host_variable: "0.0.0.0", port_variable: "1"}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "refusing to listen on 0.0.0.0 without API keys" in refused.stderr
    assert "KMIDI_ALLOW_ANONYMOUS=true" in refused.stderr

    # No address given: loopback, and it says so.
    port = free_port()
    log = tmp_path / "loopback.log"
    service = start_service(
        module, service_env(kafka_bootstrap, **{port_variable: str(port)}), log, port
    )
    try:
        await wait_answering(service, "/live")
        assert "only: no API keys" in service.logs()
        listening = {
            (c.laddr.ip, c.laddr.port)
            for c in psutil.Process(service.process.pid).net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN
        }
        assert listening == {("127.0.0.1", port)}, listening
    finally:
        service.stop()

    # KMIDI_ALLOW_ANONYMOUS=true: listening everywhere on purpose, with a warning.
    port = free_port()
    env = service_env(
        kafka_bootstrap,
        **{host_variable: "0.0.0.0", port_variable: str(port), "KMIDI_ALLOW_ANONYMOUS": "true"},
    )
    service = start_service(module, env, tmp_path / "anonymous.log", port)
    try:
        await wait_answering(service, "/live")
        assert "WITHOUT API keys" in service.logs()
    finally:
        service.stop()
