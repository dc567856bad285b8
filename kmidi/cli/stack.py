"""``kmidi up``: the whole pipeline on one machine, each service its own process.

It supervises what it started: a service or an embedded broker that dies is started again
(the broker with its data, on the same ports, so the services reconnect by themselves).
``--brokers 3`` runs a local three-node cluster instead of one broker (``KafkaCluster``),
with three copies of every topic; each node is supervised the same way.

Order of start: broker (embedded unless ``KAFKA_BOOTSTRAP_SERVERS`` is set), topics, results
service, stream worker(s), the audio stage's worker, ingress. Ctrl-C or SIGTERM stops them in
the reverse order, so the ingress stops accepting before the worker that drains its events
goes away.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import NamedTuple

from kmidi.cli.broker import (
    CLUSTER_HEAP,
    DEFAULT_PORT,
    MAX_BROKERS,
    BrokerStartError,
    EmbeddedKafka,
    KafkaCluster,
    KafkaUnavailableError,
    die_with_parent,
    free_port,
    stack_data_dir,
)
from kmidi.cli.kafka_probe import broker_answers
from kmidi.cli.stack_ports import claims_of, port_problem

SERVICE_STOP_TIMEOUT = 20.0
READY_TIMEOUT = 120.0
RESTARTS_ALLOWED = 5
"""A service that dies more often than this within RESTART_WINDOW stops the stack."""
RESTART_WINDOW = 60.0


@dataclass(slots=True)
class Service:
    """One supervised child process of the stack."""

    name: str
    argv: list[str]
    env: dict[str, str]
    health_url: str | None = None
    ports: tuple[str, ...] = ()
    """The settings in ``env`` of the ports it listens on (``stack_ports.HOST_OF``)."""
    process: subprocess.Popen[bytes] | None = None
    restarts: deque[float] = field(default_factory=deque)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            # Own session: the terminal's Ctrl-C reaches only `kmidi up`, which then
            # stops the services in order instead of all at once.
            start_new_session=True,
            preexec_fn=die_with_parent(os.getpid()),
        )

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SERVICE_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            print(f"kmidi: {self.name} did not stop in time; killing it", file=sys.stderr)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``kmidi up``; each has an environment variable of the same meaning."""
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("KMIDI_WORKERS", "1")),
        help="stream worker processes sharing the partitions (env KMIDI_WORKERS, default 1)",
    )
    parser.add_argument(
        "--brokers",
        type=broker_count,
        default=broker_count(os.environ.get("KMIDI_BROKERS", "1")),
        help="embedded Kafka nodes: 1, or 3 for a local cluster with 3 copies of every topic "
        "(env KMIDI_BROKERS, default 1; ignored with KAFKA_BOOTSTRAP_SERVERS)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="wipe the embedded broker's data first (all topics and results)",
    )


def run_up(args: argparse.Namespace) -> int:
    """Run the stack until Ctrl-C/SIGTERM or until a service keeps crashing."""
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    workers = max(1, getattr(args, "workers", 1))
    # Before the broker starts: a port clash is a setting to change, not a wait to sit out.
    if not _ports_free(_services("", workers=workers, env=dict(os.environ))):
        return 1
    broker = _broker(brokers=getattr(args, "brokers", 1), fresh=getattr(args, "fresh", False))
    if broker is None:
        return 1
    # Set after the broker's own handlers so that ours decide the shutdown order.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return _run_services(broker, workers, lambda: stopping)


def _run_services(broker: _Broker, workers: int, stopping: Callable[[], bool]) -> int:
    """Create the topics, start the services and supervise them until ``stopping()``; then
    stop them in reverse order, and the embedded broker last."""
    bootstrap, kafka, replication_env = broker
    env = {**replication_env, **os.environ}
    services: list[Service] = []
    try:
        if _create_topics(bootstrap, env) != 0:
            return 1
        services = _services(bootstrap, workers=workers, env=env)
        for service in services:
            service.start()
        if not _wait_until_healthy(services, stopping):
            return 0 if stopping() else 1
        _print_banner(services, bootstrap, kafka)
        return _supervise_until_stopped(services, kafka, stopping)
    finally:
        print("kmidi: stopping…", flush=True)
        for service in reversed(services):
            service.stop()
        if kafka is not None:
            kafka.stop()
        print("kmidi: stopped.", flush=True)


def _supervise_until_stopped(
    services: list[Service],
    kafka: EmbeddedKafka | KafkaCluster | None,
    stopping: Callable[[], bool],
) -> int:
    """Restart what dies, the embedded broker's nodes first, until ``stopping()`` (0); 1 when
    a node or a service keeps dying."""
    nodes = _nodes(kafka)
    broker_restarts: dict[int, deque[float]] = {node.node_id: deque() for node in nodes}
    while not stopping():
        for node in nodes:
            if not supervise_broker(node, broker_restarts[node.node_id], **_names(kafka, node)):
                return 1
        if not _supervise(services):
            return 1
        time.sleep(0.5)
    return 0


class _Broker(NamedTuple):
    """Where the services find Kafka, the embedded broker or cluster (None: another's), and
    the topic replication the services should use with it (empty: their own settings)."""

    bootstrap: str
    kafka: EmbeddedKafka | KafkaCluster | None
    replication_env: dict[str, str]


def _broker(*, brokers: int, fresh: bool) -> _Broker | None:
    """KAFKA_BOOTSTRAP_SERVERS, a broker already answering, or a started embedded one;
    None when the embedded one could not start (it has said why)."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if bootstrap:
        return _Broker(bootstrap, None, {})
    port = int(os.environ.get("KAFKA_PORT") or DEFAULT_PORT)
    bootstrap = ",".join(f"127.0.0.1:{port + index}" for index in range(brokers))
    if broker_answers(bootstrap, timeout=1.0):
        print(f"kmidi: using the Kafka broker already answering at {bootstrap}")
        return _Broker(bootstrap, None, {})
    if brokers == 1:
        single = _start_broker(port, fresh=fresh)
        return None if single is None else _Broker(bootstrap, single, {})
    cluster = _start_cluster(port, brokers, fresh=fresh)
    if cluster is None:
        return None
    # The embedded cluster's copies for the services' topics, unless set by hand.
    replication = {
        "TOPIC_REPLICATION_FACTOR": str(cluster.replication.factor),
        "TOPIC_MIN_INSYNC_REPLICAS": str(cluster.replication.min_insync),
    }
    return _Broker(bootstrap, cluster, replication)


def broker_count(text: str) -> int:
    """``--brokers``: an integer from 1 to MAX_BROKERS."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_BROKERS:
        raise argparse.ArgumentTypeError(f"brokers must be 1 to {MAX_BROKERS}, not {text!r}")
    return count


def _nodes(kafka: EmbeddedKafka | KafkaCluster | None) -> list[EmbeddedKafka]:
    if kafka is None:
        return []
    return kafka.nodes if isinstance(kafka, KafkaCluster) else [kafka]


def _names(kafka: EmbeddedKafka | KafkaCluster | None, node: EmbeddedKafka) -> dict[str, str]:
    """How supervise_broker's messages name ``node``."""
    if isinstance(kafka, KafkaCluster):
        return {"name": f"Kafka node {node.node_id}", "short": f"Kafka node {node.node_id}"}
    return {}


def _start_broker(port: int, *, fresh: bool) -> EmbeddedKafka | None:
    data_dir = stack_data_dir()
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    print(f"kmidi: starting Apache Kafka on 127.0.0.1:{port} (data: {data_dir})…", flush=True)
    # Both ports fixed: a restarted broker must come back where the services look for it.
    broker = EmbeddedKafka(port=port, controller_port=free_port(), data_dir=data_dir)
    seconds = _start_timed(broker)
    if seconds is None:
        return None
    print(f"kmidi: Kafka ready in {seconds:.1f} s", flush=True)
    return broker


def _start_cluster(port: int, brokers: int, *, fresh: bool) -> KafkaCluster | None:
    data_dir = stack_data_dir()
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    ports = [port + index for index in range(brokers)]
    print(
        f"kmidi: starting a {brokers}-node Apache Kafka cluster on 127.0.0.1 ports "
        f"{ports[0]}-{ports[-1]} (data: {data_dir / f'kafka-cluster-{brokers}'})…",
        flush=True,
    )
    # Every port fixed: a restarted node must come back where the others look for it.
    cluster = KafkaCluster(
        brokers=brokers,
        ports=ports,
        controller_ports=[free_port() for _ in ports],
        data_dir=data_dir / f"kafka-cluster-{brokers}",
        heap=CLUSTER_HEAP,
    )
    seconds = _start_timed(cluster)
    if seconds is None:
        return None
    copies = cluster.replication
    print(
        f"kmidi: Kafka cluster ready in {seconds:.1f} s ({copies.factor} copies of every "
        f"topic, min.insync.replicas={copies.min_insync})",
        flush=True,
    )
    return cluster


def _start_timed(broker: EmbeddedKafka | KafkaCluster) -> float | None:
    """Seconds ``broker.start()`` took; None, with the reason on stderr, when it failed."""
    started = time.monotonic()
    try:
        broker.start()
    except (KafkaUnavailableError, BrokerStartError) as exc:
        print(f"kmidi: {exc}", file=sys.stderr)
        return None
    return time.monotonic() - started


def _create_topics(bootstrap: str, env: dict[str, str]) -> int:
    command = [sys.executable, "-m", "stream_processors.topics", "create"]
    return subprocess.run([*command, "--bootstrap", bootstrap], env=env, check=False).returncode


def _services(bootstrap: str, *, workers: int, env: dict[str, str]) -> list[Service]:
    api_port = env.get("API_PORT", "8000")
    results_port = env.get("RESULTS_PORT", "8001")
    base_env = {
        **env,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "RESULTS_BASE_URL": env.get("RESULTS_BASE_URL", f"http://127.0.0.1:{results_port}"),
        "PYTHONUNBUFFERED": "1",
    }
    python = sys.executable
    # Readiness, not liveness: "kmidi is up" is printed only when a submitted intent can
    # complete, i.e. the results view has caught up with Kafka and every worker has joined
    # the group and been given its partitions (faust's /ready on the worker's web server).
    results = Service(
        "results",
        [python, "-m", "stream_processors.results_service"],
        {
            **base_env,
            "RESULTS_HOST": env.get("RESULTS_HOST", "127.0.0.1"),
            "RESULTS_PORT": results_port,
        },
        health_url=f"http://127.0.0.1:{results_port}/ready",
        ports=("RESULTS_PORT",),
    )
    names = [f"worker-{index + 1}" if workers > 1 else "worker" for index in range(workers)]
    stages = [
        _faust_service(name, "stream_processors", base_env, index)
        for index, name in enumerate(names)
    ]
    # The audio stage is a worker of its own (its own consumer group), after the others.
    stages.append(_faust_service("audio", "stream_processors.audio_app", base_env, workers))
    ingress = Service(
        "ingress",
        [python, "-m", "producer_api"],
        {
            **base_env,
            "API_HOST": env.get("API_HOST", "127.0.0.1"),
            "API_PORT": api_port,
            "API_WORKERS": env.get("API_WORKERS", "1"),
        },
        health_url=f"http://127.0.0.1:{api_port}/ready",
        ports=("API_PORT",),
    )
    return [results, *stages, ingress]


def _faust_service(name: str, module: str, base_env: dict[str, str], index: int) -> Service:
    """The ``index``-th faust app of the stack: its metrics and web ports are the
    configured ones plus ``index``."""
    metrics_port = int(base_env.get("WORKER_METRICS_PORT", "9100")) + index
    web_port = int(base_env.get("FAUST_WEB_PORT", "6066")) + index
    web_enabled = base_env.get("FAUST_WEB_ENABLED", "true").lower() not in ("0", "false", "no")
    return Service(
        name,
        [sys.executable, "-m", module],
        {**base_env, "WORKER_METRICS_PORT": str(metrics_port), "FAUST_WEB_PORT": str(web_port)},
        health_url=f"http://127.0.0.1:{web_port}/ready" if web_enabled else None,
        ports=("WORKER_METRICS_PORT", "FAUST_WEB_PORT")
        if web_enabled
        else ("WORKER_METRICS_PORT",),
    )


def _ports_free(services: list[Service]) -> bool:
    """Whether every service can listen where it is told to; else say why."""
    problem = port_problem(c for s in services for c in claims_of(s.name, s.env, s.ports))
    if problem is not None:
        print(f"kmidi: {problem}", file=sys.stderr)
    return problem is None


def _wait_until_healthy(services: list[Service], stopping: Callable[[], bool]) -> bool:
    """True once every service is ready in the same pass (workers that join one after the
    other rebalance the group, so one ready a moment ago may not be any more)."""
    deadline = time.monotonic() + READY_TIMEOUT
    checked = [service for service in services if service.health_url]
    while True:
        if stopping():
            return False
        for service in services:
            code = service.exited()
            if code is not None:
                print(f"kmidi: {service.name} exited with code {code} during start-up")
                return False
        pending = [s for s in checked if not _answers(s.health_url or "")]
        if not pending:
            return True
        if time.monotonic() > deadline:
            names = ", ".join(s.name for s in pending)
            print(f"kmidi: {names} not ready within {READY_TIMEOUT:g} s", file=sys.stderr)
            return False
        time.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _restart_allowed(restarts: deque[float]) -> bool:
    """Count a restart; False when RESTARTS_ALLOWED already happened within RESTART_WINDOW."""
    now = time.monotonic()
    while restarts and now - restarts[0] > RESTART_WINDOW:
        restarts.popleft()
    if len(restarts) >= RESTARTS_ALLOWED:
        return False
    restarts.append(now)
    return True


def _supervise(services: list[Service]) -> bool:
    """Restart a service that died; False when one keeps dying."""
    for service in services:
        code = service.exited()
        if code is None:
            continue
        if not _restart_allowed(service.restarts):
            print(
                f"kmidi: {service.name} exited (code {code}) {RESTARTS_ALLOWED} times within "
                f"{RESTART_WINDOW:g} s; stopping the stack",
                file=sys.stderr,
            )
            return False
        print(f"kmidi: {service.name} exited with code {code}; restarting it", file=sys.stderr)
        service.start()
    return True


def supervise_broker(
    broker: EmbeddedKafka,
    restarts: deque[float],
    *,
    name: str = "the embedded Kafka broker",
    short: str = "Kafka",
) -> bool:
    """Restart an embedded broker (or one node of a cluster) with its data when it died;
    False when it cannot be, or has died RESTARTS_ALLOWED times within RESTART_WINDOW.
    ``name`` and ``short`` name it in the messages."""
    if broker.is_running():
        return True
    if not _restart_allowed(restarts):
        print(
            f"kmidi: {short} died {RESTARTS_ALLOWED} times within {RESTART_WINDOW:g} s; "
            f"stopping. Log: {broker.log_file}",
            file=sys.stderr,
        )
        return False
    print(
        f"kmidi: {name} died; restarting it with its data (log: {broker.log_file})",
        file=sys.stderr,
        flush=True,
    )
    seconds = _start_timed(broker)
    if seconds is None:
        return False
    print(
        f"kmidi: {short} back in {seconds:.1f} s (the dead JVM's exit code: {broker.returncode})",
        flush=True,
    )
    return True


def _print_banner(
    services: list[Service], bootstrap: str, kafka: EmbeddedKafka | KafkaCluster | None
) -> None:
    by_name = {service.name: service for service in services}
    api = by_name["ingress"].env
    results = by_name["results"].env
    if isinstance(kafka, KafkaCluster):
        kafka_note = f"embedded, {kafka.brokers} nodes, logs: {kafka.data_dir}/node-*/logs"
    elif kafka is not None:
        kafka_note = f"embedded, log: {kafka.log_file}"
    else:
        kafka_note = "external"
    lines = [
        "",
        "kmidi is up",
        f"  studio   http://127.0.0.1:{api['API_PORT']}/  (open it in a browser)",
        f"  ingress  http://127.0.0.1:{api['API_PORT']}  (POST /v1/generate, docs at /docs)",
        f"  results  http://127.0.0.1:{results['RESULTS_PORT']}  (GET /v1/results/{{id}})",
    ]
    for service in services:
        if service.name.startswith("worker") or service.name == "audio":
            port = service.env["WORKER_METRICS_PORT"]
            lines.append(f"  {service.name:<8} metrics at http://127.0.0.1:{port}/metrics")
    keys_file = api.get("KMIDI_API_KEYS_FILE") or os.environ.get("KMIDI_API_KEYS_FILE")
    auth = """-H "Authorization: Bearer $KMIDI_API_KEY" """ if keys_file else ""
    lines += [
        f"  kafka    {bootstrap}  ({kafka_note})",
        "",
        *(
            [
                f"API keys are on ({keys_file}): `kmidi keys create NAME` prints one;",
                "export it as KMIDI_API_KEY for the example below.",
            ]
            if keys_file
            else []
        ),
        "Try:",
        f"  curl -s -X POST http://127.0.0.1:{api['API_PORT']}/generate {auth}"
        "-H 'Content-Type: application/json' "
        """-d '{"intent": {"emotional_intent": "I am feeling grief"}, "output_format": "midi"}'""",
        "Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)
