"""`kmidi up` restarts its embedded broker after a SIGKILL, and no accepted intent is lost;
with `--brokers 3` it runs a 3-node cluster and restarts a killed node the same way."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import psutil
import pytest
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

from kmidi.cli.broker import free_port_run
from schemas.topics import INTENTS
from tests.e2e.stack_process import RunningStack, start_stack

pytestmark = pytest.mark.e2e

INTENTS_BEFORE = 25
INTENTS_AFTER = 25
DEADLINE = 240.0
"""The test's own bound on the whole recovery: broker restart, reconnects, 50 results."""


def broker_pids(stack: RunningStack) -> list[int]:
    found = []
    for pid in stack.service_pids():
        try:
            if "kafka.Kafka" in psutil.Process(pid).cmdline():
                found.append(pid)
        except psutil.NoSuchProcess:
            continue
    return found


def broker_pid(stack: RunningStack) -> int:
    pids = broker_pids(stack)
    assert pids, "no embedded broker JVM under kmidi up"
    return pids[0]


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


async def intents_replicas(bootstrap: str) -> set[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([INTENTS])
        return {len(partition["replicas"]) for partition in described["partitions"]}
    finally:
        await admin.close()


def test_kmidi_up_with_three_brokers_keeps_three_copies_and_restarts_a_killed_node(
    tmp_path: Path,
) -> None:
    first_port = free_port_run(3)
    stack = start_stack(
        tmp_path,
        bootstrap=None,
        extra_env={"KMIDI_BROKERS": "3", "KAFKA_PORT": str(first_port)},
    )
    children = stack.service_pids()
    try:
        deadline = time.monotonic() + DEADLINE
        jvms = broker_pids(stack)
        assert len(jvms) == 3, f"one JVM per node: {jvms}"
        assert asyncio.run(intents_replicas(stack.bootstrap)) == {3}
        log = stack.log_text()
        assert "3 copies of every topic, min.insync.replicas=2" in log
        assert "created with 3 replica(s), min.insync.replicas=2" in log
        nodes = ",".join(f"127.0.0.1:{first_port + n}" for n in range(3))
        assert f"kafka    {nodes}  (embedded, 3 nodes" in log

        os.kill(jvms[-1], signal.SIGKILL)
        with httpx.Client(timeout=30) as client:
            request_id = f"cluster-{uuid.uuid4().hex[:8]}"
            submit(client, stack, request_id, deadline)  # 503s while the node is fenced
            wait_completed(client, stack, request_id, deadline)
        while "back in" not in stack.log_text():
            assert time.monotonic() < deadline, stack.log_tail(40)
            time.sleep(0.5)
        assert "died; restarting it with its data" in stack.log_text()
        assert len(broker_pids(stack)) == 3
    finally:
        code = stack.stop(signal.SIGINT)
    assert code == 0, stack.log_tail(40)
    leftovers = [pid for pid in children if psutil.pid_exists(pid) and alive(pid)]
    assert not leftovers, f"processes left after Ctrl-C: {leftovers}"


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
