"""The embedded broker starts, answers, stops cleanly and never outlives its Python parent."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from kmidi.cli import broker as broker_module
from kmidi.cli.broker import (
    INSTALL_HINT,
    EmbeddedKafka,
    KafkaUnavailableError,
    free_port,
    free_port_run,
    read_cluster_id,
)
from kmidi.cli.kafka_probe import broker_answers
from kmidi.cli.main import main

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
SIGTERM_EXIT = 128 + signal.SIGTERM  # the JVM ran its shutdown hooks


def jvms_using(marker: Path) -> list[psutil.Process]:
    """Live ``kafka.Kafka`` JVMs whose command line mentions ``marker`` (our data dir)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if (
            "kafka.Kafka" in cmdline
            and any(str(marker) in arg for arg in cmdline)
            and process.info["status"] != psutil.STATUS_ZOMBIE
        ):
            found.append(process)
    return found


def wait_until_gone(marker: Path, timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while (left := jvms_using(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_start_answer_stop_leaves_no_jvm(tmp_path: Path) -> None:
    data_dir = tmp_path / "kafka"
    broker = EmbeddedKafka(data_dir=data_dir, heap="512m")
    with broker:
        assert broker.is_running()
        assert broker_answers(broker.bootstrap_servers)
        assert [p.pid for p in jvms_using(data_dir)] == [broker.pid]
        assert (data_dir / "logs" / "server.log").stat().st_size > 0  # log4j writes the log
        port = broker.port

    assert not broker.is_running()
    assert broker.returncode == SIGTERM_EXIT, broker.log_tail()
    assert jvms_using(data_dir) == []
    assert not broker_answers(f"127.0.0.1:{port}", timeout=1)
    broker.stop()  # idempotent


def test_restart_keeps_the_formatted_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "kafka"
    with EmbeddedKafka(data_dir=data_dir, heap="512m"):
        meta = (data_dir / "kraft" / "meta.properties").read_text()
    with EmbeddedKafka(data_dir=data_dir, heap="512m") as again:
        assert broker_answers(again.bootstrap_servers)
        assert (data_dir / "kraft" / "meta.properties").read_text() == meta
    assert jvms_using(data_dir) == []


def test_a_detached_three_node_cluster_answers_and_stops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port_run(3)
    data_dir = tmp_path / "cluster"
    start = ["broker", "start", "--brokers", "3", "--port", str(port), "--data-dir", str(data_dir)]
    assert main([*start, "--detach"]) == 0, capsys.readouterr().err
    try:
        nodes = ",".join(f"127.0.0.1:{port + n}" for n in range(3))
        assert f"ready at {nodes} " in capsys.readouterr().out
        assert main(["broker", "status", "--bootstrap", f"127.0.0.1:{port + 2}"]) == 0
        status = capsys.readouterr().out
        assert ": 3 broker(s): " in status
        for n in range(3):  # in the broker's order, not always by node id
            assert f"{n + 1}@127.0.0.1:{port + n}" in status
        assert len(jvms_using(data_dir)) == 3
        cluster_ids = {read_cluster_id(data_dir / f"node-{n}" / "kraft") for n in (1, 2, 3)}
        assert len(cluster_ids) == 1
        assert None not in cluster_ids
    finally:
        assert main(["broker", "stop", "--port", str(port)]) == 0
    assert wait_until_gone(data_dir, timeout=45) == []
    assert not broker_answers(f"127.0.0.1:{port}", timeout=1)


CHILD = """
import sys, time
from kmidi.cli.broker import EmbeddedKafka
broker = EmbeddedKafka(data_dir=sys.argv[1], heap="512m").start()
print(broker.bootstrap_servers, broker.pid, flush=True)
while True:
    time.sleep(1)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killing_the_python_parent_takes_the_jvm_down(tmp_path: Path, signum: int) -> None:
    data_dir = tmp_path / "kafka"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, f"the child did not start a broker: {child.communicate()[1]}"
        bootstrap, jvm_pid = line.split()
        assert broker_answers(bootstrap)
        assert [p.pid for p in jvms_using(data_dir)] == [int(jvm_pid)]

        child.send_signal(signum)
        assert child.wait(timeout=60) == -signum
        # SIGTERM: our handler stops the JVM first. SIGKILL: PR_SET_PDEATHSIG makes the
        # kernel SIGTERM the JVM, which then shuts down on its own.
        assert wait_until_gone(data_dir, timeout=45) == []
        assert not broker_answers(bootstrap, timeout=1)
    finally:
        if child.poll() is None:
            child.kill()
        for leftover in jvms_using(data_dir):
            leftover.kill()


def test_missing_java_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))

    with pytest.raises(KafkaUnavailableError, match=INSTALL_HINT) as raised:
        EmbeddedKafka(data_dir=tmp_path / "kafka").start()
    assert "java" in str(raised.value)

    assert main(["broker", "start", "--port", str(free_port())]) == 1
    assert INSTALL_HINT in capsys.readouterr().err


def test_missing_maven_on_first_run_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java = shutil.which("java")
    if java is None:
        pytest.skip("needs java")
    only_java = tmp_path / "bin"
    only_java.mkdir()
    (only_java / "java").symlink_to(java)
    monkeypatch.setenv("PATH", str(only_java))
    monkeypatch.setenv("KMIDI_CACHE_DIR", str(tmp_path / "cache"))

    with pytest.raises(KafkaUnavailableError, match=INSTALL_HINT) as raised:
        EmbeddedKafka(data_dir=tmp_path / "kafka").start()
    assert "mvn" in str(raised.value)


def test_concurrent_first_runs_resolve_the_jars_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KMIDI_CACHE_DIR", str(tmp_path / "cache"))
    results: list[Path | BaseException] = []

    def resolve() -> None:
        try:
            results.append(broker_module.resolve_kafka_jars())
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=resolve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)

    lib = broker_module.kafka_home() / "lib"
    assert results == [lib, lib]
    assert (broker_module.kafka_home() / "RESOLVED").is_file()
    names = {jar.name for jar in lib.glob("*.jar")}
    assert {"kafka_2.13-3.9.2.jar", "slf4j-reload4j-1.7.36.jar", "reload4j-1.2.19.jar"} <= names
    # No staging folder of the losing resolver is left behind.
    cache_entries = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert cache_entries == [".kafka-3.9.2.lock", "kafka-3.9.2"]
