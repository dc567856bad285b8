"""The embedded Apache Kafka broker: official jars from Maven Central, KRaft nodes.

Usage::

    with EmbeddedKafka() as kafka:          # one node, free loopback ports, temporary data dir
        run_things(kafka.bootstrap_servers)

    with KafkaCluster(brokers=3) as cluster:  # three nodes, a controller quorum of three
        run_things(cluster.bootstrap_servers)
        cluster.kill(2)                     # kill -9 one node ...
        cluster.restart(2)                  # ... and bring it back with its data

The jars are resolved once per machine into ``cache_dir()/kafka-3.9.2/lib`` (needs Java
17+ and Maven); later starts need no network.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any

from kmidi.cli.kafka_probe import ProbeError, broker_answers, fetch_brokers

KAFKA_VERSION = "3.9.2"
SCALA_VERSION = "2.13"
SLF4J_VERSION = "1.7.36"
DEFAULT_PORT = 9092
DEFAULT_START_TIMEOUT = 90.0
DEFAULT_HEAP = "768m"
CLUSTER_HEAP = "384m"
"""JVM max heap of each node of a cluster: three of them share a small machine."""
MAX_BROKERS = 5
"""Every node is a controller too; a quorum of more than five voters is not worth it."""
STOP_TIMEOUT = 30.0
INSTALL_HINT = "apt-get install openjdk-17-jre-headless maven"

_RESOLVED_MARKER = "RESOLVED"
_LOG_TAIL_LINES = 30

_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kmidi.local</groupId>
  <artifactId>embedded-kafka</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{SCALA_VERSION}</artifactId>
      <version>{KAFKA_VERSION}</version>
    </dependency>
    <!-- kafka_2.13 ships no logging backend; without one SLF4J is a no-op and the
         broker logs nothing. This brings ch.qos.reload4j:reload4j along. -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>{SLF4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
"""

_LOG4J_PROPERTIES = """\
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={log_file}
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
# Per-partition state changes and request logs are noise for a single local node.
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.kafka.log.LogCleaner=WARN
"""


class KafkaUnavailableError(RuntimeError):
    """The embedded broker cannot run on this machine (missing Java/Maven, no jars)."""


class BrokerStartError(RuntimeError):
    """The broker JVM exited early or did not answer in time; the message holds the log."""


def cache_dir() -> Path:
    """``$KMIDI_CACHE_DIR``, else ``$XDG_CACHE_HOME/kmidi``, else ``~/.cache/kmidi``."""
    explicit = os.environ.get("KMIDI_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "kmidi"


def stack_data_dir() -> Path:
    """Data of ``kmidi up``: ``$KMIDI_DATA_DIR``, else ``<cache>/stack-data`` (the embedded
    broker's log dirs and the artifact store's ``artifacts/``)."""
    explicit = os.environ.get("KMIDI_DATA_DIR")
    return Path(explicit).expanduser() if explicit else cache_dir() / "stack-data"


def kafka_home(cache: Path | None = None) -> Path:
    """Where this Kafka version's ``lib/`` folder lives (resolved or not)."""
    return (cache or cache_dir()) / f"kafka-{KAFKA_VERSION}"


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive loopback ports that were all free a moment ago
    (a cluster's nodes listen on PORT, PORT+1, …)."""
    for _ in range(100):
        first = free_port()
        with contextlib.ExitStack() as held:
            try:
                for port in range(first + 1, first + count):
                    sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return first
    raise OSError(f"no {count} consecutive free ports on 127.0.0.1")


def find_java() -> str:
    """Path of ``java``, or a KafkaUnavailableError that says what to install."""
    java = shutil.which("java")
    if java is None:
        raise KafkaUnavailableError(
            "The embedded Kafka broker needs Java 17+ and Maven, and `java` is not on PATH. "
            f"Install them with: {INSTALL_HINT} "
            "(or point KAFKA_BOOTSTRAP_SERVERS at an existing Kafka cluster)."
        )
    return java


def resolve_kafka_jars(cache: Path | None = None) -> Path:
    """The Kafka runtime classpath folder, resolved with Maven on first use.

    Concurrent callers serialise on a lock file and Maven writes into a temporary folder
    that is renamed into place, so a crash or a second resolver never leaves a half-full
    ``lib/`` that looks finished.
    """
    home = kafka_home(cache)
    lib = home / "lib"
    if (home / _RESOLVED_MARKER).is_file():
        return lib
    home.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(home.parent / f".kafka-{KAFKA_VERSION}.lock"):
        if (home / _RESOLVED_MARKER).is_file():
            return lib
        mvn = _find_mvn(lib)
        staging = Path(tempfile.mkdtemp(prefix=f".kafka-{KAFKA_VERSION}-", dir=home.parent))
        try:
            _maven_resolve(mvn, staging)
            if home.exists():  # an unfinished earlier attempt
                shutil.rmtree(home)
            staging.rename(home)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return lib


def _find_mvn(lib: Path) -> str:
    """Path of ``mvn``, or a KafkaUnavailableError that says what to install."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaUnavailableError(
            f"The embedded Kafka broker needs Maven once, to fetch Apache Kafka "
            f"{KAFKA_VERSION} from Maven Central into {lib}, and `mvn` is not on PATH. "
            f"Install Java and Maven with: {INSTALL_HINT} "
            "(or point KAFKA_BOOTSTRAP_SERVERS at an existing Kafka cluster)."
        )
    return mvn


def _maven_resolve(mvn: str, staging: Path) -> None:
    """Fetch Kafka's runtime jars into ``staging/lib`` and mark ``staging`` resolved."""
    (staging / "pom.xml").write_text(_POM, encoding="utf-8")
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(staging / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging / 'lib'}",
        ],
        cwd=staging,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    jars = list((staging / "lib").glob("kafka_*.jar"))
    if result.returncode != 0 or not jars:
        raise KafkaUnavailableError(
            f"Maven could not resolve org.apache.kafka:kafka_{SCALA_VERSION}:"
            f"{KAFKA_VERSION} (exit {result.returncode}; needs network access to "
            f"Maven Central the first time):\n{_tail(result.stdout, _LOG_TAIL_LINES)}"
        )
    (staging / _RESOLVED_MARKER).write_text(
        f"org.apache.kafka:kafka_{SCALA_VERSION}:{KAFKA_VERSION}\n", encoding="utf-8"
    )


class EmbeddedKafka:
    """One combined broker+controller KRaft node on loopback, run as a child JVM.

    ``start()`` returns once the broker answers a Metadata request; ``stop()`` shuts it
    down cleanly (SIGTERM, then SIGKILL after 30 s) and is idempotent. The JVM also goes
    away when this process exits (atexit), gets SIGTERM/SIGHUP, or is SIGKILLed
    (PR_SET_PDEATHSIG on Linux, when started from the main thread).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        controller_port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        heap: str = DEFAULT_HEAP,
        cache: Path | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        listeners: Mapping[str, int] | None = None,
        properties: Mapping[str, str] | None = None,
        format_args: Sequence[str] = (),
        node_id: int = 1,
        voters: Mapping[int, int] | None = None,
        cluster_id: str | None = None,
        replication: Replication | None = None,
    ) -> None:
        """``listeners`` adds client listeners, ``{"SASL_SSL": port}`` (the name is the
        security protocol), beside the PLAINTEXT one the broker's own readiness probe
        uses; ``properties`` are appended to server.properties (TLS stores, SASL
        mechanisms, JAAS); ``format_args`` go to the first ``StorageTool format``, e.g.
        ``["--add-scram", "SCRAM-SHA-512=[name=u,password=p]"]``.

        ``node_id``, ``voters`` (node id → controller port of every voter, this node's
        included), ``cluster_id`` and ``replication`` make it one node of a cluster;
        ``KafkaCluster`` sets them. Alone it is node 1, its own only voter, with a new
        cluster id and one replica of everything."""
        self._listeners = dict(listeners or {})
        self._properties = dict(properties or {})
        self._format_args = tuple(format_args)
        self._node_id = node_id
        self._voters = dict(voters) if voters is not None else None
        self._cluster_id = cluster_id
        self._replication = replication or Replication.for_brokers(1)
        self._requested_port = port
        self._requested_controller_port = controller_port
        self._own_data_dir = data_dir is None
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._heap = heap
        self._cache = cache
        self._start_timeout = start_timeout
        self._port = port
        self._controller_port = controller_port
        self._process: subprocess.Popen[bytes] | None = None
        self._returncode: int | None = None
        self._console: IO[bytes] | None = None
        # Re-entrant: the SIGTERM handler may call stop() while start()/stop() holds it.
        self._lock = threading.RLock()

    # -- public surface --------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:<port>``; the port is known once ``start()`` picked it."""
        if self._port is None:
            raise RuntimeError("the broker port is chosen by start()")
        return f"127.0.0.1:{self._port}"

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def node_id(self) -> int:
        return self._node_id

    def listener_bootstrap(self, name: str) -> str:
        """``127.0.0.1:<port>`` of the extra listener ``name`` (e.g. "SASL_SSL")."""
        return f"127.0.0.1:{self._listeners[name]}"

    @property
    def controller_port(self) -> int | None:
        return self._controller_port

    @property
    def data_dir(self) -> Path:
        if self._data_dir is None:
            raise RuntimeError("the data dir is created by start()")
        return self._data_dir

    @property
    def log_file(self) -> Path:
        """The broker's own log (log4j); JVM stdout/stderr go to ``console_log``."""
        return self.data_dir / "logs" / "server.log"

    @property
    def console_log(self) -> Path:
        return self.data_dir / "logs" / "console.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def returncode(self) -> int | None:
        """The last JVM's exit code once stopped: 143 after a clean SIGTERM shutdown."""
        return self._returncode

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddedKafka:
        """Resolve jars if needed, format the log dir if needed, run and wait until ready."""
        with self._lock:
            if self.is_running():
                return self
            # Ports picked here can be taken by someone else before the JVM binds them;
            # retry with fresh ones in that case, never when the caller fixed them.
            attempts = 1 if self._requested_port and self._requested_controller_port else 3
            for attempt in range(1, attempts + 1):
                self.launch()
                try:
                    self.wait_until_ready()
                except BaseException as exc:
                    self._stop_locked()
                    _unregister(self)
                    if attempt < attempts and _port_taken(exc):
                        continue
                    raise
                return self
        raise AssertionError("unreachable")

    def launch(self) -> None:
        """Format the log dir if needed and start the JVM, without waiting for it.

        ``start()`` is ``launch()`` then ``wait_until_ready()``. The nodes of a cluster are
        launched together and waited for afterwards: none answers before a majority of
        the controller quorum runs.
        """
        with self._lock:
            if self.is_running():
                return
            self._stop_locked()  # a JVM that died on its own: reap it, close its console log
            java = find_java()
            lib = resolve_kafka_jars(self._cache)
            if self._data_dir is None:
                self._data_dir = Path(tempfile.mkdtemp(prefix="kmidi-kafka-"))
            self._port = self._requested_port or free_port()
            self._controller_port = self._requested_controller_port or free_port()
            self._write_config()
            self._format(java, lib)
            self._launch(java, lib)
            _register(self)  # before waiting: a SIGTERM during startup must stop it too

    def wait_until_ready(self) -> None:
        """Until the launched JVM answers a Metadata request; BrokerStartError if it exits
        first or does not answer within the start timeout (the JVM is left running)."""
        deadline = time.monotonic() + self._start_timeout
        while not self.answers():
            if time.monotonic() >= deadline:
                raise BrokerStartError(
                    f"Kafka did not answer on {self.bootstrap_servers} within "
                    f"{self._start_timeout:g}s. Log: {self.log_file}\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def answers(self) -> bool:
        """Whether the launched JVM answers a Metadata request now; BrokerStartError if
        it has exited (with its log)."""
        process = self._process
        if process is None:
            raise BrokerStartError(f"Kafka node {self._node_id} was not launched")
        code = process.poll()
        if code is not None:
            raise BrokerStartError(
                f"Kafka exited with code {code} before it was ready on "
                f"{self.bootstrap_servers}. Log: {self.log_file}\n{self.log_tail()}"
            )
        return broker_answers(self.bootstrap_servers, timeout=1.0)

    def kill(self) -> int | None:
        """SIGKILL the JVM, as a crash would, and reap it; keeps the data dir (``start()``
        brings the node back with it). The JVM's exit code (-9), or None if none ran."""
        with self._lock:
            process = self._process
            if process is not None:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
            self._stop_locked()
            _unregister(self)
            return self._returncode if process is not None else None

    def terminate(self) -> None:
        """Ask the JVM to shut down (SIGTERM) without waiting; ``stop()`` waits for it.

        A cluster signals all its nodes before waiting for any (about 5 s in all): stopped
        one after the other, the last node waits for a controller quorum that has gone
        away until it is SIGKILLed 30 s later."""
        process = self._process
        if process is not None and process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM the JVM's process group, SIGKILL after 30 s; safe to call repeatedly."""
        with self._lock:
            self._stop_locked()
            _unregister(self)
            if self._own_data_dir and self._data_dir is not None:
                shutil.rmtree(self._data_dir, ignore_errors=True)
                self._data_dir = None

    def wait(self) -> int:
        """Block until the JVM exits on its own; its exit code."""
        process = self._process
        if process is None:
            raise RuntimeError("not started")
        # Poll instead of Popen.wait(): a blocking wait holds Popen's waitpid lock, and
        # the SIGTERM handler's stop() could then never reap the JVM.
        while (code := process.poll()) is None:
            time.sleep(0.2)
        return code

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of the broker log and of the JVM console, for error messages."""
        parts = []
        for path in (self.log_file, self.console_log):
            with contextlib.suppress(OSError):
                text = path.read_text(encoding="utf-8", errors="replace")
                if text.strip():
                    parts.append(f"--- {path} (last {lines} lines) ---\n{_tail(text, lines)}")
        return "\n".join(parts) or "(both logs are empty)"

    def __enter__(self) -> EmbeddedKafka:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return (
            f"<EmbeddedKafka node {self._node_id} {state} port={self._port} "
            f"data_dir={self._data_dir}>"
        )

    # -- internals -------------------------------------------------------------------

    @property
    def _kraft_dir(self) -> Path:
        return self.data_dir / "kraft"

    def _write_config(self) -> None:
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "server.properties").write_text(
            server_properties(
                port=self.port or DEFAULT_PORT,
                controller_port=self.controller_port or 0,
                log_dir=self._kraft_dir,
                listeners=self._listeners,
                node_id=self._node_id,
                voters=self._voters,
                replication=self._replication,
            )
            + "".join(f"{key}={value}\n" for key, value in self._properties.items()),
            encoding="utf-8",
        )
        (self.data_dir / "log4j.properties").write_text(
            _LOG4J_PROPERTIES.format(log_file=self.log_file), encoding="utf-8"
        )

    def _java_command(self, java: str, lib: Path, main_class: str, *args: str) -> list[str]:
        return [
            java,
            f"-Dlog4j.configuration=file:{self.data_dir / 'log4j.properties'}",
            "-cp",
            f"{lib}/*",
            main_class,
            *args,
        ]

    def _format(self, java: str, lib: Path) -> None:
        if (self._kraft_dir / "meta.properties").is_file():
            return  # a restart: keep the cluster id and every topic
        self._run_tool(
            java,
            lib,
            "format",
            "-t",
            self._cluster_id or new_cluster_id(),
            "-c",
            str(self.data_dir / "server.properties"),
            "--ignore-formatted",
            *self._format_args,
        )

    def _run_tool(self, java: str, lib: Path, *args: str) -> str:
        cmd = self._java_command(java, lib, "kafka.tools.StorageTool", *args)
        cmd[1:1] = ["-Xmx256m", "-XX:TieredStopAtLevel=1"]  # a short-lived tool: start fast
        result = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise BrokerStartError(
                f"kafka.tools.StorageTool {args[0]} failed (exit {result.returncode}):\n"
                f"{_tail(result.stdout + result.stderr, _LOG_TAIL_LINES)}"
            )
        return result.stdout

    def _launch(self, java: str, lib: Path) -> None:
        cmd = self._java_command(java, lib, "kafka.Kafka", str(self.data_dir / "server.properties"))
        cmd[1:1] = [
            "-Xms256m",
            f"-Xmx{self._heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            # C1 only: C2 kept compiling for minutes after start, 3-4% of a core with
            # nothing to do and a third of the broker's CPU during the first drain; a
            # local broker on a small machine gains more from that than from C2's code.
            "-XX:TieredStopAtLevel=1",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
        ]
        self._console = self.console_log.open("ab")
        on_main_thread = threading.current_thread() is threading.main_thread()
        self._process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._console,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            # Own process group: a terminal's Ctrl-C reaches us, not the JVM, so we decide
            # the shutdown order; stop() signals the whole group.
            start_new_session=True,
            # PDEATHSIG fires when the *thread* that forked exits; from a worker thread
            # that would kill the broker early, so only the main thread arms it.
            preexec_fn=die_with_parent(os.getpid()) if on_main_thread else None,
        )

    def _stop_locked(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        if process is not None:
            # Anything the JVM forked shares its group; make sure nothing lingers.
            _signal_group(process.pid, signal.SIGKILL)
            self._returncode = process.returncode
        if self._console is not None:
            self._console.close()
            self._console = None


@dataclass(frozen=True, slots=True)
class Replication:
    """Copies a cluster keeps: the broker defaults for new topics and its internal topics.

    The services' own topics get theirs from ``TOPIC_REPLICATION_FACTOR`` and
    ``TOPIC_MIN_INSYNC_REPLICAS`` (``stream_processors.config.TopicReplication``); these are
    the values to give them for the cluster, printed by ``kmidi broker start`` and set by
    ``kmidi up --brokers N``.
    """

    factor: int
    min_insync: int

    @classmethod
    def for_brokers(cls, brokers: int) -> Replication:
        """1 and 1 on one broker; 3 and 2 on three or more (one broker may be down without
        losing an acknowledged write or stopping writes); 2 and 1 on two."""
        factor = max(1, min(3, brokers))
        return cls(factor=factor, min_insync=2 if factor >= 3 else 1)


def server_properties(
    *,
    port: int,
    controller_port: int,
    log_dir: Path,
    listeners: Mapping[str, int] | None = None,
    node_id: int = 1,
    voters: Mapping[int, int] | None = None,
    replication: Replication | None = None,
) -> str:
    """KRaft configuration of one combined broker+controller node, loopback only.

    ``voters`` maps every controller's node id to its controller port (default: this
    node alone, a single-node cluster).
    """
    extra = listeners or {}
    bound = "".join(f",{name}://127.0.0.1:{number}" for name, number in extra.items())
    protocols = "".join(f",{name}:{name}" for name in extra)
    quorum = voters or {node_id: controller_port}
    quorum_voters = ",".join(f"{node}@127.0.0.1:{quorum[node]}" for node in sorted(quorum))
    copies = replication or Replication.for_brokers(1)
    failover = _CLUSTER_FAILOVER if len(quorum) > 1 else ""
    return _SERVER_PROPERTIES.format(
        node_id=node_id,
        quorum_voters=quorum_voters,
        port=port,
        controller_port=controller_port,
        bound=bound,
        protocols=protocols,
        log_dir=log_dir,
        copies=copies,
        failover=failover,
    )


_SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id={node_id}
controller.quorum.voters={quorum_voters}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}{bound}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}{bound}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT{protocols}
log.dirs={log_dir}
num.partitions=6
# Topics come only from schemas/topics.py (kmidi topics create); a typo in a topic name
# must fail loudly instead of silently creating a topic with default settings.
auto.create.topics.enable=false
delete.topic.enable=true
# Copies of every partition: 1 on one node; on a cluster 3, and an acks=all write needs
# 2 of them, so one node can be down without losing or refusing writes. The internal
# topics (consumer offsets, transaction state) get the same.
default.replication.factor={copies.factor}
min.insync.replicas={copies.min_insync}
offsets.topic.replication.factor={copies.factor}
offsets.topic.num.partitions=6
transaction.state.log.replication.factor={copies.factor}
transaction.state.log.min.isr={copies.min_insync}
transaction.state.log.num.partitions=6
# Consumers join at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.retention.check.interval.ms=300000
{failover}"""
"""KRaft settings of one node (``server_properties``); ``failover`` ends it on a cluster."""


_CLUSTER_FAILOVER = """\
# Failover: until the active controller fences a node that stopped heartbeating, the
# partitions it leads (or follows in sync) take no acks=all write. Kafka's 9 s session
# stalled a local pipeline for 14 s when the node was also the controller (a new one is
# elected first); 6 s with a heartbeat a second brings that down by a third.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
"""


def new_cluster_id() -> str:
    """A KRaft cluster id as ``kafka-storage random-uuid`` makes one (16 random bytes,
    URL-safe base64 without padding, never starting with "-"), without starting a JVM."""
    while True:
        text = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


def read_cluster_id(kraft_dir: Path) -> str | None:
    """``cluster.id`` of a formatted KRaft log dir, None if it is not formatted."""
    with contextlib.suppress(OSError):
        for line in (kraft_dir / "meta.properties").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "cluster.id":
                return value.strip()
    return None


def _listed_by(node: EmbeddedKafka) -> list[int]:
    """Ids of the brokers ``node``'s Metadata answer lists; none when it does not answer."""
    try:
        return sorted(
            broker.node_id for broker in fetch_brokers(node.bootstrap_servers, timeout=1.0)
        )
    except (OSError, ProbeError):
        return []


class KafkaCluster:
    """``brokers`` combined broker+controller KRaft nodes on loopback, one JVM each.

    Node ids are 1..N and every node is a voter of the controller quorum, so a cluster of
    three keeps working (metadata, leader elections, writes with acks=all and
    ``min.insync.replicas=2``) with any one node down. Each node has its own PLAINTEXT
    and CONTROLLER ports and its own data dir ``<data_dir>/node-<id>``, formatted with
    one cluster id. Ports are fixed at the first start, so a node that is killed and
    restarted comes back where the others and every client look for it.
    """

    def __init__(
        self,
        *,
        brokers: int = 3,
        ports: Sequence[int] | None = None,
        controller_ports: Sequence[int] | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        heap: str = CLUSTER_HEAP,
        cache: Path | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        properties: Mapping[str, str] | None = None,
        replication: Replication | None = None,
    ) -> None:
        if brokers < 1:
            raise ValueError("a cluster needs at least one broker")
        for name, given in (("ports", ports), ("controller_ports", controller_ports)):
            if given is not None and len(given) != brokers:
                raise ValueError(f"{name}: {len(given)} given for {brokers} brokers")
        self._brokers = brokers
        self._requested_ports = list(ports) if ports is not None else None
        self._requested_controller_ports = (
            list(controller_ports) if controller_ports is not None else None
        )
        self._own_data_dir = data_dir is None
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._heap = heap
        self._cache = cache
        self._start_timeout = start_timeout
        self._properties = dict(properties or {})
        self.replication = replication or Replication.for_brokers(brokers)
        self._nodes: list[EmbeddedKafka] = []

    # -- public surface --------------------------------------------------------------

    @property
    def brokers(self) -> int:
        return self._brokers

    @property
    def nodes(self) -> list[EmbeddedKafka]:
        """The nodes, node 1 first; created by ``start()``."""
        return list(self._nodes)

    def node(self, node_id: int) -> EmbeddedKafka:
        """The node with this id (1..N)."""
        for node in self._nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(f"no node {node_id} (the cluster has nodes 1..{self._brokers})")

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:<port>,…`` of every node."""
        if not self._nodes:
            raise RuntimeError("the ports are chosen by start()")
        return ",".join(node.bootstrap_servers for node in self._nodes)

    @property
    def data_dir(self) -> Path:
        if self._data_dir is None:
            raise RuntimeError("the data dir is created by start()")
        return self._data_dir

    def is_running(self) -> bool:
        """Every node's JVM runs."""
        return bool(self._nodes) and all(node.is_running() for node in self._nodes)

    def start(self) -> KafkaCluster:
        """Launch every node, then wait until each answers and all N are registered."""
        if self._data_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix="kmidi-kafka-cluster-"))
        fixed = self._requested_ports is not None and self._requested_controller_ports is not None
        # Free ports picked here can be taken before the JVMs bind them; then start over
        # with fresh ones (nothing is written yet that names them, only config files).
        attempts = 1 if fixed or self._nodes else 3
        for attempt in range(1, attempts + 1):
            if not self._nodes:
                self._nodes = self._new_nodes()
            try:
                for node in self._nodes:
                    node.launch()
                self._wait_until_all_answer()
                self.wait_for_brokers(self._brokers)
            except BaseException as exc:
                self._stop_nodes()
                if attempt < attempts and _port_taken(exc):
                    self._nodes = []
                    continue
                raise
            return self
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop every node (SIGTERM to all at once, SIGKILL after 30 s); idempotent."""
        self._stop_nodes()
        if self._own_data_dir and self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None

    def kill(self, node_id: int) -> int | None:
        """``kill -9`` one node's JVM (a crash: no controlled shutdown); keeps its data.
        The JVM's exit code (-9)."""
        return self.node(node_id).kill()

    def restart(self, node_id: int, *, timeout: float | None = None) -> None:
        """Start a stopped or killed node again with its data and ports, and wait until
        the cluster lists it among its brokers again."""
        node = self.node(node_id)
        node.start()
        self.wait_for_brokers(self._brokers, timeout=timeout)

    def wait_for_brokers(self, count: int, *, timeout: float | None = None) -> None:
        """Until every running node's Metadata answer lists ``count`` brokers (registered
        and unfenced). Each node learns the others from the metadata log at its own pace:
        one node listing all of them does not mean a client of another one sees them."""
        limit = self._start_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        listed: dict[int, list[int]] = {}
        while True:
            running = [node for node in self._nodes if node.is_running()]
            listed = {node.node_id: _listed_by(node) for node in running}
            if running and all(len(ids) >= count for ids in listed.values()):
                return
            if time.monotonic() >= deadline:
                raise BrokerStartError(
                    f"the nodes listed brokers {listed} instead of {count} within "
                    f"{limit:g}s.\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def controller_leader(self) -> int | None:
        """Node id of the active controller, as the nodes last wrote it down (each keeps
        its view of the quorum in ``__cluster_metadata-0/quorum-state``; the highest
        epoch wins). None before the first election."""
        best: tuple[int, int] | None = None
        for node in self._nodes:
            state = _quorum_state(node)
            if state is not None and state[1] >= 0 and (best is None or state[0] > best[0]):
                best = state
        return best[1] if best is not None else None

    def wait(self) -> EmbeddedKafka:
        """Block until some node's JVM exits; that node."""
        while True:
            for node in self._nodes:
                if not node.is_running():
                    return node
            time.sleep(0.2)

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        return "\n".join(
            f"=== node {node.node_id} ===\n{node.log_tail(lines)}" for node in self._nodes
        )

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        running = sum(node.is_running() for node in self._nodes)
        return f"<KafkaCluster {running}/{self._brokers} running data_dir={self._data_dir}>"

    # -- internals -------------------------------------------------------------------

    def _new_nodes(self) -> list[EmbeddedKafka]:
        count = self._brokers
        ports = self._requested_ports or [free_port() for _ in range(count)]
        controller_ports = self._requested_controller_ports or [free_port() for _ in range(count)]
        voters = {index + 1: controller_ports[index] for index in range(count)}
        node_dirs = [self.data_dir / f"node-{index + 1}" for index in range(count)]
        # A restart of the whole cluster keeps the id its log dirs were formatted with.
        known = [read_cluster_id(path / "kraft") for path in node_dirs]
        cluster_id = next((found for found in known if found), None) or new_cluster_id()
        return [
            EmbeddedKafka(
                port=ports[index],
                controller_port=controller_ports[index],
                data_dir=node_dirs[index],
                heap=self._heap,
                cache=self._cache,
                start_timeout=self._start_timeout,
                properties=self._properties,
                node_id=index + 1,
                voters=voters,
                cluster_id=cluster_id,
                replication=self.replication,
            )
            for index in range(count)
        ]

    def _wait_until_all_answer(self) -> None:
        """Until every node answers; the first node that exits fails the start at once."""
        deadline = time.monotonic() + self._start_timeout
        waiting = list(self._nodes)
        while waiting:
            waiting = [node for node in waiting if not node.answers()]
            if waiting and time.monotonic() >= deadline:
                names = ", ".join(f"node {node.node_id}" for node in waiting)
                raise BrokerStartError(
                    f"{names} of the cluster did not answer within {self._start_timeout:g}s."
                    f"\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def _stop_nodes(self) -> None:
        for node in self._nodes:
            node.terminate()
        for node in self._nodes:
            node.stop()


def _quorum_state(node: EmbeddedKafka) -> tuple[int, int] | None:
    """(leader epoch, leader id) from a node's quorum-state file, None if unreadable."""
    path = node.data_dir / "kraft" / "__cluster_metadata-0" / "quorum-state"
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        return int(state["leaderEpoch"]), int(state["leaderId"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _port_taken(exc: BaseException) -> bool:
    return "Address already in use" in str(exc)


# -- process lifetime ----------------------------------------------------------------

_live: set[EmbeddedKafka] = set()
_live_lock = threading.Lock()
_hooks_installed = False
_previous_handlers: dict[int, Any] = {}


def _register(broker: EmbeddedKafka) -> None:
    global _hooks_installed
    with _live_lock:
        _live.add(broker)
        if _hooks_installed:
            return
        _hooks_installed = True
    atexit.register(_stop_all)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            _previous_handlers[signum] = signal.signal(signum, _on_signal)


def _unregister(broker: EmbeddedKafka) -> None:
    with _live_lock:
        _live.discard(broker)


def _stop_all() -> None:
    with _live_lock:
        brokers = list(_live)
    # All at once: the nodes of a cluster stopped one by one would wait for a quorum.
    for broker in brokers:
        broker.terminate()
    for broker in brokers:
        broker.stop()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # Python's default for SIGTERM/SIGHUP kills the interpreter without running atexit,
    # which would orphan the JVM. Stop the brokers, then behave as before.
    _stop_all()
    previous = _previous_handlers.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A ``preexec_fn``: Linux SIGTERMs the child when ``parent_pid`` dies, even by SIGKILL.

    None off Linux. Only arm it from the main thread: the signal fires when the
    *thread* that forked the child exits.
    """
    if sys.platform != "linux":
        return None

    def arm() -> None:
        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])
