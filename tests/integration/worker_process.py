"""Run the stream worker as a real subprocess (``python -m faust -A stream_processors.app``).

Its stdout and stderr go to a log file that outlives restarts, so tests can assert on the
JSON log lines; ``start`` returns once faust logged that the worker is ready.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

from kmidi.cli.broker import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_MARKER = "[^Worker]: Ready"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


class WorkerStartError(RuntimeError):
    """The worker exited or did not report ready in time; the message has its log tail."""


class WorkerProcess:
    """One faust worker process; ``start``/``stop``/``kill`` may be called repeatedly."""

    def __init__(
        self,
        *,
        bootstrap: str,
        app_id: str,
        log_path: Path,
        data_dir: Path,
        env: dict[str, str] | None = None,
        entry_module: str = "faust",
    ) -> None:
        self.bootstrap = bootstrap
        self.app_id = app_id
        self.log_path = log_path
        self.data_dir = data_dir
        self.web_port = free_port()
        self.metrics_port = free_port()
        self.extra_env = dict(env or {})
        self.entry_module = entry_module
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the worker and wait for faust's "Ready" line (after table recovery)."""
        if self.is_running():
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "WORKER_ID": self.app_id,
            "WORKER_METRICS_PORT": str(self.metrics_port),
            "WORKER_METRICS_HOST": "127.0.0.1",
            "FAUST_WEB_PORT": str(self.web_port),
            "WORKER_DATA_DIR": str(self.data_dir),
            "LOG_LEVEL": "INFO",
            "CONSUMER_LAG_INTERVAL": "0.5",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        command = [
            sys.executable,
            "-m",
            self.entry_module,
            "-A",
            "stream_processors.app",
            "worker",
            "-l",
            "info",
            "--web-port",
            str(self.web_port),
        ]
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            if READY_MARKER in self._read_from(offset):
                return
            code = self.process.poll()
            if code is not None:
                raise WorkerStartError(f"worker exited with {code} during start:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise WorkerStartError(f"worker not ready after {timeout:g} s:\n{self.tail()}")
            time.sleep(0.2)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int | None:
        """Signal the worker and wait for it to exit (SIGKILL after ``timeout``)."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None
        self.process = None
        return process.returncode

    def kill(self) -> int | None:
        """SIGKILL: no shutdown, no commit, no flush."""
        return self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self._read_from(0)

    def json_lines(self) -> list[dict[str, Any]]:
        """Every log line that is a JSON object."""
        entries = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(entry, dict):
                    entries.append(entry)
        return entries

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def _read_from(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(offset)
                return handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""
