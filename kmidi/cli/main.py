"""The ``kmidi`` command: local broker, topics, and the local stack.

Services are started as processes, never imported: ``kmidi`` may import only the
stdlib, mido and ``schemas`` (docs/architecture.md), so e.g. topic creation runs
``python -m stream_processors.topics`` in a subprocess.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from importlib import metadata
from pathlib import Path
from types import FrameType

from kmidi.cli import compose, keys, stack
from kmidi.cli.broker import (
    CLUSTER_HEAP,
    DEFAULT_HEAP,
    DEFAULT_PORT,
    DEFAULT_START_TIMEOUT,
    KAFKA_VERSION,
    STOP_TIMEOUT,
    BrokerStartError,
    EmbeddedKafka,
    KafkaCluster,
    KafkaUnavailableError,
    cache_dir,
)
from kmidi.cli.kafka_probe import ProbeError, broker_answers, fetch_brokers


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the chosen subcommand."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kmidi", description="kmidi: emotional intent in, playable MIDI out."
    )
    parser.add_argument("--version", action="version", version=f"kmidi {installed_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_broker(subparsers)
    _add_topics(subparsers)

    up = subparsers.add_parser("up", help="run the whole local stack as processes")
    stack.add_arguments(up)
    up.set_defaults(handler=stack.run_up)

    compose.register(subparsers)
    keys.register(subparsers)
    return parser


def installed_version() -> str:
    """The version of the installed ``kmidi`` distribution (pyproject.toml's, once installed)."""
    try:
        return metadata.version("kmidi")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def default_port() -> int:
    return int(os.environ.get("KAFKA_PORT") or DEFAULT_PORT)


def default_bootstrap() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or f"127.0.0.1:{default_port()}"


# -- kmidi broker ----------------------------------------------------------------------


def _add_broker(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    broker = subparsers.add_parser("broker", help="the embedded Apache Kafka broker")
    actions = broker.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add_broker_start(actions)

    stop = actions.add_parser("stop", help="stop a broker started with --detach")
    stop.add_argument("--port", type=int, default=default_port())
    stop.set_defaults(handler=_broker_stop)

    status = actions.add_parser(
        "status",
        help="does a broker answer, with the KAFKA_SECURITY_PROTOCOL/SASL/SSL settings? "
        "(exit 0 yes, 1 no)",
    )
    status.add_argument(
        "--bootstrap",
        default=None,
        help="host:port[,…] (default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:$KAFKA_PORT)",
    )
    status.set_defaults(handler=_broker_status)


def _add_broker_start(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    start = actions.add_parser(
        "start", help="start a local Kafka broker, or a cluster with --brokers 3 (foreground)"
    )
    start.add_argument(
        "--port",
        type=int,
        default=default_port(),
        help="PLAINTEXT port on 127.0.0.1 (default: $KAFKA_PORT or 9092); a cluster's "
        "nodes use PORT, PORT+1, …",
    )
    start.add_argument(
        "--brokers",
        type=stack.broker_count,
        default=1,
        help="KRaft nodes, each a broker and a controller (default 1); 3 is a local "
        "cluster that keeps 3 copies of every topic and survives the loss of one node",
    )
    start.add_argument(
        "--controller-port",
        type=int,
        default=None,
        help="KRaft controller port (default: a free one); a cluster's nodes use "
        "CONTROLLER_PORT, CONTROLLER_PORT+1, …",
    )
    _add_broker_run_options(start)
    start.set_defaults(handler=_broker_start)


def _add_broker_run_options(start: argparse.ArgumentParser) -> None:
    """Where ``broker start`` keeps its data, its heap, and how it waits and runs."""
    start.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="broker data dir (default: <cache>/data, a cluster's <cache>/cluster-N; kept "
        "across restarts)",
    )
    start.add_argument(
        "--heap",
        default=None,
        help=f"JVM max heap of each node (default: {DEFAULT_HEAP}; {CLUSTER_HEAP} in a cluster)",
    )
    start.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_START_TIMEOUT,
        help="seconds to wait until it answers",
    )
    start.add_argument(
        "--detach", action="store_true", help="run in the background; `kmidi broker stop` stops it"
    )
    start.add_argument("--pidfile", type=Path, default=None, help=argparse.SUPPRESS)


def _run_dir() -> Path:
    path = cache_dir() / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pidfile(port: int) -> Path:
    return _run_dir() / f"broker-{port}.pid"


def _broker_start(args: argparse.Namespace) -> int:
    for port in _node_ports(args):
        bootstrap = f"127.0.0.1:{port}"
        if broker_answers(bootstrap, timeout=1.0):
            print(f"kmidi: a Kafka broker already answers at {bootstrap}", file=sys.stderr)
            return 1
    if args.detach:
        return _broker_start_detached(args)
    _stop_on_signals()
    if args.brokers > 1:
        return _cluster_start(args)
    return _single_broker_start(args)


def _node_ports(args: argparse.Namespace) -> list[int]:
    """The PLAINTEXT port of each node ``broker start`` runs: PORT, PORT+1, …"""
    return [args.port + index for index in range(args.brokers)]


def _stop_on_signals() -> None:
    """SIGTERM (kmidi broker stop, systemd, …) must unwind like Ctrl-C so the broker
    shuts down cleanly and the pidfile goes away."""

    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    # Explicit, because a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, _terminate)


def _single_broker_start(args: argparse.Namespace) -> int:
    """``kmidi broker start`` in the foreground: one broker, until Ctrl-C or its exit."""
    kafka = EmbeddedKafka(
        port=args.port,
        controller_port=args.controller_port,
        data_dir=args.data_dir or cache_dir() / "data",
        heap=args.heap or DEFAULT_HEAP,
        start_timeout=args.timeout,
    )
    banner = partial(_broker_banner, kafka)
    return _serve_in_foreground(kafka, args.pidfile, banner, partial(_report_exit, kafka))


def _broker_banner(kafka: EmbeddedKafka) -> list[str]:
    """Printed once the broker answers."""
    return [
        f"Apache Kafka {KAFKA_VERSION} ready at {kafka.bootstrap_servers}",
        f"data: {kafka.data_dir}\nlog:  {kafka.log_file}",
        "Ctrl-C stops it.",
    ]


def _report_exit(kafka: EmbeddedKafka) -> int:
    """Wait for the broker to exit on its own, and say so (exit code 1)."""
    code = kafka.wait()
    print(
        f"kmidi: Kafka exited with code {code}. Log: {kafka.log_file}\n{kafka.log_tail()}",
        file=sys.stderr,
    )
    return 1


def _serve_in_foreground(
    kafka: EmbeddedKafka | KafkaCluster,
    pidfile: Path | None,
    banner: Callable[[], list[str]],
    watch: Callable[[], int],
) -> int:
    """Start ``kafka``, print ``banner()`` and the pidfile, run ``watch()`` until it returns
    (its exit code) or Ctrl-C / SIGTERM (0); Kafka is stopped and the pidfile removed."""
    try:
        try:
            kafka.start()
        except (KafkaUnavailableError, BrokerStartError) as exc:
            print(f"kmidi: {exc}", file=sys.stderr)
            return 1
        if pidfile is not None:
            _write_pidfile(pidfile)
        print("\n".join(banner()), flush=True)
        return watch()
    except KeyboardInterrupt:
        print("stopping Kafka…", flush=True)
        kafka.stop()
        print("stopped.", flush=True)
        return 0
    finally:
        kafka.stop()
        if pidfile is not None:
            _remove_pidfile(pidfile)


def _cluster_start(args: argparse.Namespace) -> int:
    """``kmidi broker start --brokers N`` in the foreground: N nodes on PORT, PORT+1, …; a
    node that dies (kill -9 it to see the cluster carry on) is started again with its
    data, as ``kmidi up`` does with its broker."""
    count = args.brokers
    controller_ports = None
    if args.controller_port is not None:
        controller_ports = [args.controller_port + index for index in range(count)]
    cluster = KafkaCluster(
        brokers=count,
        ports=_node_ports(args),
        controller_ports=controller_ports,
        data_dir=args.data_dir or cache_dir() / f"cluster-{count}",
        heap=args.heap or CLUSTER_HEAP,
        start_timeout=args.timeout,
    )
    banner = partial(_cluster_banner, cluster, count)
    return _serve_in_foreground(cluster, args.pidfile, banner, partial(_supervise, cluster))


def _cluster_banner(cluster: KafkaCluster, count: int) -> list[str]:
    """Printed after the start: the nodes' ports are known then."""
    copies = cluster.replication
    return [
        f"Apache Kafka {KAFKA_VERSION} ready: {count} nodes at {cluster.bootstrap_servers}",
        *(
            f"  node {node.node_id}: {node.bootstrap_servers} (controller "
            f"127.0.0.1:{node.controller_port}), log: {node.log_file}"
            for node in cluster.nodes
        ),
        f"data: {cluster.data_dir}",
        f"{copies.factor} copies of every topic, min.insync.replicas={copies.min_insync} "
        "(internal topics too). For the services and `kmidi topics create`:",
        f"  export KAFKA_BOOTSTRAP_SERVERS={cluster.bootstrap_servers}",
        f"  export TOPIC_REPLICATION_FACTOR={copies.factor} "
        f"TOPIC_MIN_INSYNC_REPLICAS={copies.min_insync}",
        "A node that dies is started again with its data. Ctrl-C stops them all.",
    ]


def _supervise(cluster: KafkaCluster) -> int:
    """Restart every node that dies; 1 once one cannot be (or died too often)."""
    restarts: dict[int, deque[float]] = {node.node_id: deque() for node in cluster.nodes}
    while True:
        for node in cluster.nodes:
            name = f"Kafka node {node.node_id}"
            if not stack.supervise_broker(node, restarts[node.node_id], name=name, short=name):
                return 1
        time.sleep(0.5)


def _broker_start_detached(args: argparse.Namespace) -> int:
    """``broker start --detach``: the same command in a new session, its output in a
    file; returns once it wrote its pidfile (0), exited (1) or timed out (1)."""
    pidfile = _pidfile(args.port)
    output = _run_dir() / f"broker-{args.port}.out"
    with output.open("ab") as out:
        child = subprocess.Popen(
            _foreground_command(args, pidfile),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + args.timeout + 60  # first run may resolve jars
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = "\n".join(output.read_text(errors="replace").splitlines()[-30:])
            print(
                f"kmidi: the background broker exited (code {child.returncode}):\n{tail}",
                file=sys.stderr,
            )
            return 1
        if pidfile.is_file():
            _print_detached_ready(args, child.pid, output)
            return 0
        time.sleep(0.2)
    child.terminate()
    print(f"kmidi: the background broker did not become ready; see {output}", file=sys.stderr)
    return 1


def _foreground_command(args: argparse.Namespace, pidfile: Path) -> list[str]:
    """``kmidi broker start`` with the options of ``args``, in the foreground, writing
    ``pidfile`` once it answers."""
    cmd = [
        sys.executable,
        "-m",
        "kmidi.cli.main",
        "broker",
        "start",
        "--port",
        str(args.port),
        "--brokers",
        str(args.brokers),
        "--timeout",
        str(args.timeout),
        "--pidfile",
        str(pidfile),
    ]
    if args.heap is not None:
        cmd += ["--heap", args.heap]
    if args.controller_port is not None:
        cmd += ["--controller-port", str(args.controller_port)]
    if args.data_dir is not None:
        cmd += ["--data-dir", str(args.data_dir)]
    return cmd


def _print_detached_ready(args: argparse.Namespace, pid: int, output: Path) -> None:
    """Where the detached broker answers, its pid, its output and how to stop it."""
    at = ",".join(f"127.0.0.1:{port}" for port in _node_ports(args))
    print(
        f"Apache Kafka {KAFKA_VERSION} ready at {at} "
        f"(pid {pid}); output: {output}; stop: kmidi broker stop "
        f"--port {args.port}"
    )


def _broker_stop(args: argparse.Namespace) -> int:
    pidfile = _pidfile(args.port)
    pid = _read_pidfile(pidfile)
    if pid is None or not _is_kmidi_process(pid):
        pidfile.unlink(missing_ok=True)
        if broker_answers(f"127.0.0.1:{args.port}", timeout=1.0):
            print(
                f"kmidi: a broker answers on port {args.port} but kmidi did not start it "
                "with --detach; not touching it",
                file=sys.stderr,
            )
            return 1
        print(f"no detached kmidi broker on port {args.port}")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT + 15
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)  # its JVM follows via PR_SET_PDEATHSIG
    pidfile.unlink(missing_ok=True)
    print(f"stopped the kmidi broker on port {args.port} (pid {pid})")
    return 0


def _broker_status(args: argparse.Namespace) -> int:
    # Imported here: pydantic-settings would slow every other kmidi command down.
    from pydantic import ValidationError

    from schemas.kafka_connection import KafkaConnection

    bootstrap = args.bootstrap or default_bootstrap()
    try:
        connection = KafkaConnection().with_bootstrap(bootstrap)
    except ValidationError as exc:
        print(f"invalid Kafka connection settings: {exc}", file=sys.stderr)
        return 2
    try:
        brokers = fetch_brokers(connection, timeout=3.0)
    except (OSError, ProbeError, ValueError) as exc:
        print(f"no Kafka broker answers at {bootstrap} ({exc})")
        return 1
    listed = ", ".join(f"{b.node_id}@{b.host}:{b.port}" for b in brokers)
    print(f"Kafka answers at {bootstrap}: {len(brokers)} broker(s): {listed}")
    return 0 if brokers else 1


def _write_pidfile(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    staging.write_text(f"{os.getpid()}\n", encoding="utf-8")
    staging.replace(path)


def _remove_pidfile(path: Path) -> None:
    if _read_pidfile(path) == os.getpid():
        path.unlink(missing_ok=True)


def _read_pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie is as good as gone
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


def _is_kmidi_process(pid: int) -> bool:
    """Guards against a recycled pid in a stale pidfile."""
    if not _pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return sys.platform != "linux"
    return b"kmidi" in cmdline and b"broker" in cmdline


# -- kmidi topics ----------------------------------------------------------------------


def _add_topics(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    topics = subparsers.add_parser("topics", help="Kafka topics of kmidi")
    actions = topics.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create every kmidi topic (idempotent)")
    create.add_argument(
        "--bootstrap",
        default=None,
        help="host:port[,…] (default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:$KAFKA_PORT)",
    )
    create.add_argument("--timeout", type=float, default=30.0)
    create.set_defaults(handler=_topics_create)


def _topics_create(args: argparse.Namespace) -> int:
    cmd = [
        sys.executable,
        "-m",
        "stream_processors.topics",
        "create",
        "--bootstrap",
        args.bootstrap or default_bootstrap(),
        "--timeout",
        str(args.timeout),
    ]
    return subprocess.run(cmd, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
