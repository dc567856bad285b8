"""`kmidi up` restarts its embedded broker after a SIGKILL, and no accepted intent is lost."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.stack_process import RunningStack, start_stack

pytestmark = pytest.mark.e2e

INTENTS_BEFORE = 25
INTENTS_AFTER = 25
DEADLINE = 240.0
"""The test's own bound on the whole recovery: broker restart, reconnects, 50 results."""


def broker_pid(stack: RunningStack) -> int:
    for pid in stack.service_pids():
        try:
            if "kafka.Kafka" in psutil.Process(pid).cmdline():
                return pid
        except psutil.NoSuchProcess:
            continue
    raise AssertionError("no embedded broker JVM under kmidi up")


def submit(client: httpx.Client, stack: RunningStack, request_id: str, deadline: float) -> None:
    """POST until 202: while the broker is down the ingress answers 503, as it should."""
    answers: list[int] = []
    while time.monotonic() < deadline:
        try:
            response = client.post(
                f"{stack.api_url}/v1/generate",
                json={"intent": {"emotional_intent": "relief after the storm"}, "seed": 11},
                headers={"X-Request-ID": request_id},
            )
            answers.append(response.status_code)
            if response.status_code == 202:
                return
            assert response.status_code == 503, response.text
        except httpx.TransportError:
            answers.append(0)
        time.sleep(0.5)
    raise AssertionError(f"{request_id} never accepted; answers {answers[-5:]}")


def wait_completed(
    client: httpx.Client, stack: RunningStack, request_id: str, deadline: float
) -> None:
    last = ""
    while time.monotonic() < deadline:
        try:
            response = client.get(
                f"{stack.results_url}/v1/results/{request_id}", params={"wait": 20}
            )
            last = response.text
            if response.status_code == 200 and response.json()["status"] == "completed":
                return
        except httpx.TransportError as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise AssertionError(f"{request_id} not completed: {last[:300]}")


def test_sigkilled_embedded_broker_comes_back_and_intents_complete(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, bootstrap=None, extra_env={"RATE_LIMIT_ENABLED": "false"})
    try:
        deadline = time.monotonic() + DEADLINE
        before = [f"before-kill-{uuid.uuid4().hex[:8]}" for _ in range(INTENTS_BEFORE)]
        after = [f"after-kill-{uuid.uuid4().hex[:8]}" for _ in range(INTENTS_AFTER)]
        with httpx.Client(timeout=30) as client:
            for request_id in before:
                submit(client, stack, request_id, deadline)
            killed = broker_pid(stack)
            os.kill(killed, signal.SIGKILL)
            for request_id in after:
                submit(client, stack, request_id, deadline)
            for request_id in before + after:
                wait_completed(client, stack, request_id, deadline)
        log = stack.log_text()
        assert "the embedded Kafka broker died; restarting it with its data" in log
        assert "kmidi: Kafka back in" in log
        assert broker_pid(stack) != killed
        assert stack.process.poll() is None, "kmidi up kept running"
    finally:
        stack.stop()
