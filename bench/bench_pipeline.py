"""Benchmark: what the pipeline's plumbing costs next to the music (issue 10).

    .venv/bin/python bench/bench_pipeline.py [--workers 2] [--intents 3000] [--quick]

Everything runs on 127.0.0.1 with free ports and a throw-away embedded broker, is bounded
in count and time, and stops by itself. Phases, in order:

0. **stage**: the interrogation stage's code on in-memory records, no broker and no faust
   (``bench/pipeline/stage_cost.py`` in a child process), against composing the same
   pieces: what the stage itself adds to the music.
1. **ingress** (needs ``wrk``): an embedded broker and one ingress process (rate limit
   off, ``LOG_LEVEL=WARNING``) against ``bench/pipeline/bare_app.py`` (a bare FastAPI app
   validating the same body, same uvicorn), wrk (``bench/pipeline/post.lua``, 1 thread,
   32 connections) alternating A B A B; 2xx answers per second and their ratio.
2. **stack**: ``kmidi up --workers N --fresh`` as a child process (its defaults, rate limit
   off). Time from "kmidi is up" to the first result of an intent posted right then.
3. **idle**: CPU of every stack process (broker, results, workers, ingress, supervisor)
   over ``--idle-seconds`` with nothing submitted, in % of one core.
4. **drain**: ``--intents`` intents written straight to ``kmidi.intents.v1`` (as other
   systems do; the benchmark's own CPU is not counted); CPU per intent of each process
   until the results service has materialised them all, and the drain rate.
5. **compose**: the same pieces (same texts, same seeds) composed in this process, CPU
   per piece; the ratio stack/compose is goal 1. A sample of the pipeline's MIDI is
   compared byte for byte with the in-process pieces (ETag = sha256).
6. **latency**: open loop through HTTP at each ``--rates`` (POST /v1/generate, then a
   long-poll of the status): p50/p90/p99/max and completed results per second.
7. **memory**: the results service's RSS at the end, and the view's memory for
   ``--view-results`` results in this process (scaled to 100,000).

``--ab NAME=VALUE`` replaces the phases with drains of fresh stacks without and with an
environment setting, alternated, and prints B/A; ``--profile DIR`` records py-spy profiles
of every Python process during the drain.

Figures vary with what else runs on the machine: compare ratios within one run, and
repeat. Nothing here is a test; the exit code is 0 unless the stack failed to start.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kmidi.cli.broker import EmbeddedKafka, free_port, free_port_run  # noqa: E402
from kmidi.compose import compose  # noqa: E402
from schemas.events import GenerationResult, dump_event  # noqa: E402
from schemas.intent import Intent  # noqa: E402
from schemas.topics import INTENTS, RESULTS  # noqa: E402

PIPELINE_DIR = Path(__file__).resolve().parent / "pipeline"
PYTHON = sys.executable
TEXTS = (
    "I am feeling grief",
    "we won the championship!",
    "calm evening by the sea",
    "so angry I could scream",
    "I miss the summers at my grandmother's house",
)
READY_TIMEOUT = 180.0


def derive_seed(request_id: str) -> int:
    """``stream_processors.stages.interrogation.derive_seed``: the seed of an intent without
    one. Not imported: the worker's metrics module would then be registered next to the
    results service's (same metric names) in this process. The byte-for-byte comparison
    of the compose phase shows at once if the two ever differ."""
    digest = hashlib.sha256(f"kmidi-seed:{request_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


def rnd(value: float, digits: int = 2) -> float:
    return round(value, digits)


def quantile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def wait_http(url: str, timeout: float, ok: tuple[int, ...] = (200,)) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code in ok:
                return True
        time.sleep(0.2)
    return False


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --------------------------------------------------------------------------- 1. ingress


def run_wrk(url: str, seconds: int) -> float:
    """2xx answers per second of one wrk run (1 thread, 32 connections)."""
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{seconds}s", "-s", str(PIPELINE_DIR / "post.lua"), url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=False,
    ).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if total is None:
        raise RuntimeError(f"wrk printed no total:\n{out}")
    duration = float(total.group(2)) / (1000 if total.group(3) == "ms" else 1)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    ok = int(total.group(1)) - (int(non_2xx.group(1)) if non_2xx else 0)
    return ok / duration


def bench_ingress(seconds: int, rounds: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        print("ingress: skipped (wrk not installed: apt-get install wrk)")
        return {}
    api_port, bare_port = free_port(), free_port()
    with EmbeddedKafka(heap="512m") as broker:
        topics = [PYTHON, "-m", "stream_processors.topics", "create"]
        subprocess.run(
            [*topics, "--bootstrap", broker.bootstrap_servers], check=True, capture_output=True
        )
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "RATE_LIMIT_ENABLED": "false",
            "API_WORKERS": "1",
            "API_HOST": "127.0.0.1",
            "API_PORT": str(api_port),
            "LOG_LEVEL": "WARNING",
        }
        ingress = subprocess.Popen(
            [PYTHON, "-m", "producer_api"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        bare = subprocess.Popen(
            [
                *(PYTHON, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port)),
                "--no-access-log",
            ],
            cwd=PIPELINE_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            if not wait_http(f"http://127.0.0.1:{api_port}/ready", 60):
                raise RuntimeError("the ingress did not become ready")
            if not wait_http(f"http://127.0.0.1:{bare_port}/docs", 30):
                raise RuntimeError("the bare app did not start")
            run_wrk(f"http://127.0.0.1:{api_port}/v1/generate", 2)  # warm both
            run_wrk(f"http://127.0.0.1:{bare_port}/v1/generate", 2)
            ours: list[float] = []
            bares: list[float] = []
            for _ in range(rounds):
                ours.append(run_wrk(f"http://127.0.0.1:{api_port}/v1/generate", seconds))
                bares.append(run_wrk(f"http://127.0.0.1:{bare_port}/v1/generate", seconds))
        finally:
            stop_process(ingress)
            stop_process(bare)
    ratios = [a / b for a, b in zip(ours, bares, strict=True)]
    result = {
        "kmidi_2xx_per_s": [round(x) for x in ours],
        "bare_2xx_per_s": [round(x) for x in bares],
        "ratio": rnd(sum(ours) / sum(bares), 3),
        "ratio_range": [rnd(min(ratios), 3), rnd(max(ratios), 3)],
    }
    print(
        f"ingress alone: kmidi {result['kmidi_2xx_per_s']} vs bare {result['bare_2xx_per_s']}"
        f" 2xx/s -> ratio {result['ratio']} (per round {result['ratio_range']}; goal >= 0.5)"
    )
    return result


# --------------------------------------------------------------------------- stage


def bench_stage(count: int) -> dict[str, Any]:
    """The interrogation stage's code alone, in a child process (bench/pipeline/stage_cost.py)."""
    out = subprocess.run(
        [PYTHON, str(PIPELINE_DIR / "stage_cost.py"), str(count)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    row: dict[str, Any] = json.loads(out.splitlines()[-1])
    print(
        f"stage code in-process, no Kafka: {row['stage_ms']} ms CPU per intent, composing "
        f"{row['compose_ms']} ms of it, plumbing {row['plumbing_ms']} ms; "
        f"{row['bytes_out_per_intent']} bytes written per intent"
    )
    return row


# --------------------------------------------------------------------------- 2. stack


@dataclass
class Stack:
    """``kmidi up`` as a child process and the processes it started."""

    workers: int
    extra_env: dict[str, str] = field(default_factory=dict)
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kmidi-bench-")))
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def ingress(self) -> str:
        return f"http://127.0.0.1:{self.ports['API_PORT']}"

    @property
    def results(self) -> str:
        return f"http://127.0.0.1:{self.ports['RESULTS_PORT']}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports['KAFKA_PORT']}"

    def start(self) -> float:
        """Start and wait for "kmidi is up"; the monotonic time it said so."""
        for name in ("KAFKA_PORT", "API_PORT", "RESULTS_PORT"):
            self.ports[name] = free_port()
        # Consecutive ports for the workers' and the audio worker's metrics and web
        # servers, in one block so the two runs cannot overlap.
        first = free_port_run(2 * (self.workers + 1))
        self.ports["WORKER_METRICS_PORT"] = first
        self.ports["FAUST_WEB_PORT"] = first + self.workers + 1
        env = {
            **os.environ,
            **{name: str(port) for name, port in self.ports.items()},
            "KMIDI_DATA_DIR": str(self.data_dir / "kafka"),
            "WORKER_DATA_DIR": str(self.data_dir / "worker"),
            "RATE_LIMIT_ENABLED": "false",
            **self.extra_env,
        }
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        self.log_path = self.data_dir / "stack.log"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(Path(PYTHON).parent / "kmidi"), "up", "--workers", str(self.workers), "--fresh"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kmidi up exited:\n{self.log_tail()}")
            if b"kmidi is up" in self.log_path.read_bytes():
                return time.monotonic()
            time.sleep(0.05)
        raise RuntimeError(f"kmidi up did not say it was up:\n{self.log_tail()}")

    def log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-40:])

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=60)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def processes(self) -> dict[str, psutil.Process]:
        """Every process of the stack by role (worker-1, worker-2, …)."""
        assert self.process is not None
        root = psutil.Process(self.process.pid)
        found: dict[str, psutil.Process] = {"supervisor": root}
        workers = 0
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                cmd = " ".join(child.cmdline())
                if "kafka.Kafka" in cmd:
                    found["broker"] = child
                elif "stream_processors.results_service" in cmd:
                    found["results"] = child
                elif "stream_processors.audio_app" in cmd:
                    found["audio"] = child
                elif "-m stream_processors" in cmd:
                    workers += 1
                    found[f"worker-{workers}"] = child
                elif "producer_api" in cmd:
                    found["ingress"] = child
        return found


def cpu_seconds(processes: dict[str, psutil.Process], *, system: bool = False) -> dict[str, float]:
    """CPU seconds (user + system, or system alone) of each process so far."""
    seconds: dict[str, float] = {}
    for name, process in processes.items():
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            seconds[name] = times.system + (0.0 if system else times.user)
    return seconds


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


def status_url(stack: Stack, request_id: str) -> str:
    return f"{stack.results}/v1/results/{request_id}"


async def submit_and_wait(client: httpx.AsyncClient, stack: Stack, text: str) -> tuple[str, float]:
    """POST one intent, long-poll its status; (final status, seconds from the POST)."""
    request_id = f"bench-{uuid.uuid4().hex[:16]}"
    started = time.perf_counter()
    response = await client.post(
        f"{stack.ingress}/v1/generate",
        headers={"X-Request-ID": request_id},
        json={"intent": {"emotional_intent": text}},
    )
    if response.status_code != 202:
        return f"post {response.status_code}", time.perf_counter() - started
    while time.perf_counter() - started < 30:
        response = await client.get(status_url(stack, request_id), params={"wait": 10})
        if response.status_code == 200 and response.json()["status"] in ("completed", "failed"):
            return str(response.json()["status"]), time.perf_counter() - started
    return "timeout", time.perf_counter() - started


def first_result(stack: Stack, ready_at: float) -> dict[str, Any]:
    async def run() -> tuple[str, float]:
        async with httpx.AsyncClient(timeout=40) as client:
            return await submit_and_wait(client, stack, TEXTS[0])

    status, _ = asyncio.run(run())
    seconds = time.monotonic() - ready_at
    print(f"ready -> first result: {seconds:.2f} s ({status}; goal <= 2 s)")
    return {"first_result_after_ready_s": rnd(seconds), "status": status}


# --------------------------------------------------------------------------- 3. idle


def bench_idle(stack: Stack, seconds: float) -> dict[str, Any]:
    processes = stack.processes()
    before = cpu_seconds(processes)
    time.sleep(seconds)
    used = cpu_delta(before, cpu_seconds(processes))
    percent = {name: rnd(100 * value / seconds) for name, value in used.items()}
    total = rnd(sum(percent.values()))
    print(f"idle over {seconds:g} s: {total}% of one core in all (goal <= 2%): {percent}")
    return {"total_percent": total, "by_process": percent}


# --------------------------------------------------------------------------- 4. drain


def intent_ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{index}" for index in range(count)]


def text_of(index: int) -> str:
    return TEXTS[index % len(TEXTS)]


def results_applied(stack: Stack) -> float:
    text = httpx.get(f"{stack.results}/metrics", timeout=5).text
    pattern = r'kmidi_results_view_events_total\{(?=[^}]*outcome="applied")(?=[^}]*topic="'
    match = re.search(pattern + re.escape(RESULTS) + r'")[^}]*\} ([\d.e+]+)', text)
    return float(match.group(1)) if match else 0.0


async def write_intents(bootstrap: str, ids: Sequence[str]) -> None:
    from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        futures = []
        for index, request_id in enumerate(ids):
            value = json.dumps(
                {
                    "schema": "kmidi.intent.v1",
                    "request_id": request_id,
                    "intent": {"emotional_intent": text_of(index)},
                }
            )
            futures.append(await producer.send(INTENTS, value.encode(), key=request_id.encode()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@contextlib.contextmanager
def profiling(processes: dict[str, psutil.Process], folder: Path | None) -> Iterator[None]:
    """py-spy on every Python process of the stack meanwhile: raw flame-graph lines of the
    samples that held the GIL (close to CPU time; waits in epoll are left out)."""
    if folder is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    py_spy = str(Path(PYTHON).parent / "py-spy")
    spies = [
        subprocess.Popen(
            [
                py_spy,
                "record",
                "-f",
                "raw",
                "-r",
                "200",
                "-o",
                str(folder / f"{name}.txt"),
                "--pid",
                str(process.pid),
                "--nonblocking",
                "--gil",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, process in processes.items()
        if name not in ("broker", "supervisor")
    ]
    try:
        yield
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for spy in spies:
            spy.wait(timeout=30)
        print(f"profiles of the drain in {folder}")


def bench_drain(stack: Stack, count: int, profile: Path | None = None) -> dict[str, Any]:
    ids = intent_ids(f"drain-{uuid.uuid4().hex[:8]}", count)
    processes = stack.processes()
    with profiling(processes, profile):
        return _drain(stack, ids, processes)


def _drain(stack: Stack, ids: list[str], processes: dict[str, psutil.Process]) -> dict[str, Any]:
    count = len(ids)
    baseline = results_applied(stack)
    before = cpu_seconds(processes)
    system_before = cpu_seconds(processes, system=True)
    started = time.monotonic()
    asyncio.run(write_intents(stack.bootstrap, ids))
    written = time.monotonic() - started
    deadline = started + max(120.0, count / 10)
    while results_applied(stack) < baseline + count and time.monotonic() < deadline:
        time.sleep(0.25)
    elapsed = time.monotonic() - started
    used = cpu_delta(before, cpu_seconds(processes))
    system = cpu_delta(system_before, cpu_seconds(processes, system=True))
    done = results_applied(stack) - baseline
    per_intent = {name: rnd(1000 * value / count, 3) for name, value in used.items()}
    system_share = {name: rnd(system[name] / value, 2) for name, value in used.items() if value}
    total = rnd(sum(per_intent.values()), 3)
    rate = done / elapsed
    print(
        f"drain of {count} intents written to Kafka in {written:.1f} s: {done:.0f} results in "
        f"{elapsed:.1f} s = {rate:.0f}/s; CPU per intent {total} ms in all: {per_intent}; "
        f"share of it in the kernel: {system_share}"
    )
    return {
        "ids": ids,
        "intents": count,
        "completed": int(done),
        "rate_per_s": round(rate),
        "cpu_ms_per_intent": total,
        "by_process_ms": per_intent,
        "system_share": system_share,
    }


# --------------------------------------------------------------------------- 5. compose


def bench_compose(ids: Sequence[str], stack: Stack, sample: int) -> dict[str, Any]:
    intents = {index % len(TEXTS): Intent(emotional_intent=text_of(index)) for index in range(5)}
    for index in range(20):  # warm caches the way a running worker has them warm
        compose(intents[index % len(TEXTS)], seed=index)
    gc.collect()
    pieces: dict[str, str] = {}
    started = time.process_time()
    for index, request_id in enumerate(ids):
        piece = compose(intents[index % len(TEXTS)], seed=derive_seed(request_id))
        if index % max(1, len(ids) // sample) == 0:
            pieces[request_id] = hashlib.sha256(piece.midi).hexdigest()
    per_piece = 1000 * (time.process_time() - started) / len(ids)
    same = 0
    for request_id, digest in pieces.items():
        response = httpx.get(f"{status_url(stack, request_id)}/midi", timeout=10)
        same += response.headers.get("etag", "").strip('"') == digest
    print(
        f"compose in-process, the same {len(ids)} pieces: {per_piece:.3f} ms CPU per piece; "
        f"pipeline MIDI byte-identical for {same} of {len(pieces)} sampled"
    )
    return {"cpu_ms_per_piece": rnd(per_piece, 3), "identical": same, "sampled": len(pieces)}


# --------------------------------------------------------------------------- 6. latency


async def open_loop(stack: Stack, rate: float, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    finished: list[float] = []
    limits = httpx.Limits(max_connections=4000, max_keepalive_connections=4000)
    async with httpx.AsyncClient(timeout=40, limits=limits) as client:

        async def one(index: int) -> None:
            try:
                status, took = await submit_and_wait(client, stack, text_of(index))
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)
                return
            if status == "completed":
                latencies.append(took * 1000)
                finished.append(time.perf_counter())
            else:
                errors.append(status)

        tasks = []
        count = int(rate * seconds)
        started = time.perf_counter()
        for index in range(count):
            await asyncio.sleep(max(0.0, started + index / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(index)))
        sent = time.perf_counter() - started
        await asyncio.gather(*tasks)
    latencies.sort()
    span = (max(finished) - started) if finished else float("nan")
    return {
        "rate": rate,
        "sent": count,
        "send_seconds": rnd(sent),
        "completed": len(latencies),
        "completed_per_s": round(len(latencies) / span) if finished else 0,
        "p50_ms": round(quantile(latencies, 0.5)),
        "p90_ms": round(quantile(latencies, 0.9)),
        "p99_ms": round(quantile(latencies, 0.99)),
        "max_ms": round(latencies[-1]) if latencies else None,
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:3],
    }


def bench_latency(stack: Stack, rates: Sequence[float], seconds: float) -> list[dict[str, Any]]:
    rows = []
    for rate in rates:
        time.sleep(2)
        row = asyncio.run(open_loop(stack, rate, seconds))
        rows.append(row)
        print(
            f"e2e open loop at {rate:g}/s for {seconds:g} s: p50 {row['p50_ms']} p90 "
            f"{row['p90_ms']} p99 {row['p99_ms']} max {row['max_ms']} ms; "
            f"{row['completed']}/{row['sent']} completed at {row['completed_per_s']}/s "
            f"(sending took {row['send_seconds']} s); errors {row['errors']} {row['error_kinds']}"
        )
    return rows


# --------------------------------------------------------------------------- 7. memory


def view_memory(results: int) -> dict[str, Any]:
    """Memory of a ResultsView fed ``results`` distinct completed results (real pieces)."""
    from stream_processors.results_service.config import Settings as ResultsSettings
    from stream_processors.results_service.main import new_view
    from stream_processors.results_service.store import ResultsView

    pieces = []
    for index in range(25):
        composition = compose(Intent(emotional_intent=text_of(index)), seed=index)
        pieces.append(
            GenerationResult(
                request_id="x",
                status="completed",
                midi_base64=base64.b64encode(composition.midi).decode(),
                affect=composition.affect.to_dict(),
                plan=composition.plan.to_dict(),
                seed=index,
                duration_seconds=composition.piece.duration_seconds,
                submitted_at=datetime.now(UTC),
            )
        )
    values = [dump_event(piece) for piece in pieces]
    unbounded = ResultsView(max_entries=10**9)
    gc.collect()
    rss_before = psutil.Process().memory_info().rss
    for index in range(results):
        value = values[index % len(values)].replace(b'"x"', f'"mem-{index}"'.encode(), 1)
        unbounded.apply(RESULTS, f"mem-{index}".encode(), value)
    gc.collect()
    grown = psutil.Process().memory_info().rss - rss_before
    per_100k = grown * 100_000 / results / 2**20
    del unbounded
    gc.collect()
    bounded = new_view(ResultsSettings())
    for index in range(100_000):
        value = values[index % len(values)].replace(b'"x"', f'"cap-{index}"'.encode(), 1)
        bounded.apply(RESULTS, f"cap-{index}".encode(), value)
    row = {
        "fed": results,
        "rss_growth_mib": rnd(grown / 2**20, 1),
        "per_100k_mib": rnd(per_100k, 1),
        "avg_value_bytes": round(statistics.mean(len(value) for value in values)),
        "default_bound_kept_of_100k": len(bounded),
        "default_bound_estimate_mib": rnd(bounded.memory_bytes / 2**20, 1),
    }
    print(
        f"view memory: {results} results ({row['avg_value_bytes']} B a value) grew RSS by "
        f"{row['rss_growth_mib']} MiB = {row['per_100k_mib']} MiB per 100,000 results unbounded; "
        f"with the default bounds 100,000 results leave {len(bounded)} entries, estimated "
        f"{row['default_bound_estimate_mib']} MiB"
    )
    return row


# --------------------------------------------------------------------------- A/B


def bench_variants(
    workers: int, count: int, variant: dict[str, str], rounds: int
) -> dict[str, Any]:
    """The drain alone, on fresh stacks, without and with ``variant``'s environment,
    alternated A B A B: CPU per intent of each and the ratio B / A."""
    cpu: dict[str, list[float]] = {"A": [], "B": []}
    for _ in range(rounds):
        for name, env in (("A", {}), ("B", variant)):
            with running(Stack(workers=workers, extra_env=env)) as stack:
                stack.start()
                first_result(stack, time.monotonic())
                time.sleep(3)
                print(f"variant {name} {env or '(defaults)'}:", end=" ")
                drain = bench_drain(stack, count)
                cpu[name].append(drain["cpu_ms_per_intent"])
    ratio = sum(cpu["B"]) / sum(cpu["A"])
    print(f"A/B of {variant}: CPU per intent A {cpu['A']} B {cpu['B']} -> B/A {ratio:.3f}")
    return {"variant": variant, "cpu_ms_per_intent": cpu, "ratio_b_to_a": rnd(ratio, 3)}


# --------------------------------------------------------------------------- main


@contextlib.contextmanager
def running(stack: Stack) -> Iterator[Stack]:
    try:
        yield stack
    finally:
        stack.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--intents", type=int, default=3000, help="intents drained via Kafka")
    parser.add_argument("--rates", default="10,100,250", help="open-loop rates, intents/s")
    parser.add_argument("--rate-seconds", type=float, default=15.0)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--wrk-seconds", type=int, default=8)
    parser.add_argument("--wrk-rounds", type=int, default=2)
    parser.add_argument("--view-results", type=int, default=20_000)
    parser.add_argument("--skip", default="", help="phases to skip: stage,ingress,latency,memory")
    parser.add_argument("--quick", action="store_true", help="smaller counts, shorter phases")
    parser.add_argument(
        "--profile", type=Path, help="py-spy each Python process during the drain into this folder"
    )
    parser.add_argument(
        "--ab",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="instead of the phases: drain fresh stacks without (A) and with (B) these "
        "environment settings, alternated, and print B/A (repeatable)",
    )
    parser.add_argument("--ab-rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if args.quick:
        args.intents, args.rate_seconds, args.idle_seconds = 1000, 8.0, 10.0
        args.wrk_seconds, args.wrk_rounds, args.view_results = 4, 1, 5000
    skip = set(filter(None, args.skip.split(",")))
    print(f"bench_pipeline: {psutil.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, {args}")

    if args.ab:
        variant = dict(setting.split("=", 1) for setting in args.ab)
        print(f"summary: {bench_variants(args.workers, args.intents, variant, args.ab_rounds)}")
        return 0
    report: dict[str, Any] = {}
    if "stage" not in skip:
        report["stage"] = bench_stage(args.intents)
    if "ingress" not in skip:
        report["ingress"] = bench_ingress(args.wrk_seconds, args.wrk_rounds)
    with running(Stack(workers=args.workers)) as stack:
        ready_at = stack.start()
        report["ready"] = first_result(stack, ready_at)
        time.sleep(5)
        report["idle"] = bench_idle(stack, args.idle_seconds)
        drain = bench_drain(stack, args.intents, args.profile)
        report["compose"] = bench_compose(drain.pop("ids"), stack, sample=20)
        report["drain"] = drain
        ratio = drain["cpu_ms_per_intent"] / report["compose"]["cpu_ms_per_piece"]
        print(f"goal 1: stack CPU per intent / compose CPU per piece = {ratio:.2f} (goal <= 2)")
        report["ratio"] = rnd(ratio)
        if "latency" not in skip:
            rates = [float(rate) for rate in args.rates.split(",") if rate]
            report["latency"] = bench_latency(stack, rates, args.rate_seconds)
        rss = stack.processes()["results"].memory_info().rss
        print(f"results service RSS at the end: {rss / 2**20:.0f} MiB")
        report["results_rss_mib"] = round(rss / 2**20)
    if "memory" not in skip:
        report["view_memory"] = view_memory(args.view_results)
    print(f"summary: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
