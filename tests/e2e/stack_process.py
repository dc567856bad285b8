"""Run ``kmidi up`` as a real process for end-to-end tests, with every port free."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

from kmidi.cli.broker import free_port, free_port_run
from schemas.topics import TOPICS


@dataclass
class RunningStack:
    """A ``kmidi up`` process and where its services listen."""

    process: subprocess.Popen[bytes]
    log_path: Path
    api_url: str
    results_url: str
    bootstrap: str
    started_in_seconds: float

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def supervisor_lines(self) -> str:
        """What ``kmidi up`` itself printed (``kmidi: …``): why it stopped, what died."""
        return "\n".join(line for line in self.log_text().splitlines() if line.startswith("kmidi:"))

    def log_tail(self, lines: int) -> str:
        """The last lines every service wrote, for failure messages."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def describe_group(self, group: str, topic: str) -> str:
        """Committed offset and end offset of each partition of ``topic`` for ``group``."""

        async def describe() -> str:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
            await admin.start()
            await consumer.start()
            try:
                committed = await admin.list_consumer_group_offsets(group)
                spec = next(spec for spec in TOPICS if spec.name == topic)
                partitions = [TopicPartition(topic, p) for p in range(spec.partitions)]
                ends = await consumer.end_offsets(partitions)
                return "\n".join(
                    f"{tp.topic}[{tp.partition}] committed="
                    f"{committed[tp].offset if tp in committed else None} end={ends[tp]}"
                    for tp in sorted(partitions)
                )
            finally:
                await consumer.stop()
                await admin.close()

        return asyncio.run(describe())

    def service_pids(self) -> list[int]:
        """PIDs of every process the stack started (services and the broker JVM)."""
        try:
            return [child.pid for child in psutil.Process(self.process.pid).children(True)]
        except psutil.NoSuchProcess:
            return []

    def pids_of(self, module: str) -> list[int]:
        """Children whose command line runs ``python -m <module>``."""
        found = []
        for pid in self.service_pids():
            try:
                cmdline = psutil.Process(pid).cmdline()
            except psutil.NoSuchProcess:
                continue
            if "-m" in cmdline and cmdline[cmdline.index("-m") + 1 :][:1] == [module]:
                found.append(pid)
        return found

    def stop(self, signum: int = signal.SIGINT, timeout: float = 90.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return int(self.process.returncode)


def start_stack(
    tmp_path: Path,
    *,
    bootstrap: str | None,
    extra_env: dict[str, str] | None = None,
    ready_timeout: float = 240.0,
) -> RunningStack:
    """Start ``kmidi up`` on free ports; with ``bootstrap=None`` it runs its own broker."""
    api_port, results_port = free_port(), free_port()
    # The worker takes the metrics and faust web ports given, the audio worker the next
    # ones: one run of four free ports, so neither lands on the other's or a stranger's.
    worker_ports = free_port_run(4)
    env = {
        **os.environ,
        "API_PORT": str(api_port),
        "RESULTS_PORT": str(results_port),
        "WORKER_METRICS_PORT": str(worker_ports),
        "FAUST_WEB_PORT": str(worker_ports + 2),
        "KMIDI_DATA_DIR": str(tmp_path / "stack-data"),
        "LOG_LEVEL": "INFO",
        **(extra_env or {}),
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env.pop("ARTIFACTS_DIR", None)  # the stack's files go under its KMIDI_DATA_DIR
    if "KMIDI_BROKERS" not in (extra_env or {}):
        env.pop("KMIDI_BROKERS", None)  # one embedded broker unless the test asks for more
    if bootstrap is not None:
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    else:
        # A port of the caller's (the first of a cluster's run of ports), else a free one;
        # never the developer's own KAFKA_PORT.
        env["KAFKA_PORT"] = (extra_env or {}).get("KAFKA_PORT") or str(free_port())
    log_path = tmp_path / "kmidi-up.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kmidi.cli.main", "up"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = RunningStack(
        process=process,
        log_path=log_path,
        api_url=f"http://127.0.0.1:{api_port}",
        results_url=f"http://127.0.0.1:{results_port}",
        bootstrap=bootstrap or f"127.0.0.1:{env['KAFKA_PORT']}",
        started_in_seconds=0.0,
    )
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"kmidi up exited early (code {process.returncode}); its own lines:\n"
                f"{stack.supervisor_lines()}\n--- log tail ---\n{stack.log_text()[-4000:]}"
            )
        if "kmidi is up" in stack.log_text() and _answers(f"{stack.api_url}/health"):
            stack.started_in_seconds = time.monotonic() - started
            return stack
        time.sleep(0.3)
    stack.stop(signal.SIGKILL)
    raise AssertionError(f"kmidi up not ready in {ready_timeout} s:\n{stack.log_text()[-4000:]}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
