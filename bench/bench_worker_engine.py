"""Benchmark: what faust costs a worker (issue 10), against a plain aiokafka loop.

    .venv/bin/python bench/bench_worker_engine.py [--intents 1500] [--rounds 2]

Each round runs, on a fresh embedded broker each, (A) the faust worker
(``python -m stream_processors``) and (B) ``bench/pipeline/raw_worker.py``: the same stage
code in a consumer-group loop that fetches a batch, handles every record with sends that
only enqueue, awaits all acknowledgements and commits. Once the worker is ready and has
handled ``WARM_UP`` intents (the lexicon loads on the first), ``--intents`` intents are
written to ``kmidi.intents.v1`` and the CPU of the worker and of the broker is counted
until ``kmidi.results.v1`` holds a result for each. Prints CPU per
intent for both and the ratio B/A. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_pipeline import (  # noqa: E402
    PYTHON,
    ROOT,
    intent_ids,
    rnd,
    stop_process,
    wait_http,
    write_intents,
)

from kmidi.cli.broker import EmbeddedKafka, free_port  # noqa: E402
from schemas.topics import RESULTS, TOPICS  # noqa: E402

WARM_UP = 100


async def wait_for_results(bootstrap: str, count: int, timeout: float) -> None:
    """Return once ``kmidi.results.v1`` holds ``count`` records (a fresh broker's)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        count_of = next(spec.partitions for spec in TOPICS if spec.name == RESULTS)
        partitions = [TopicPartition(RESULTS, p) for p in range(count_of)]
        deadline = time.monotonic() + timeout
        while sum((await consumer.end_offsets(partitions)).values()) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {count} results after {timeout:.0f} s")
            await asyncio.sleep(0.5)
    finally:
        await consumer.stop()


def start_worker(engine: str, bootstrap: str, data_dir: Path) -> subprocess.Popen[bytes]:
    """The worker, returned once it can take intents."""
    if engine == "raw":
        process = subprocess.Popen(
            [PYTHON, str(BENCH / "pipeline" / "raw_worker.py"), bootstrap],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,  # as the faust worker's: logs cost their writes only
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert process.stderr is not None
        line = process.stderr.readline()  # blocks until "ready" (or exit)
        if not line.startswith(b"ready"):
            raise RuntimeError(f"raw worker did not start: {line!r}")
        return process
    web_port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "WORKER_METRICS_PORT": str(free_port()),
        "FAUST_WEB_PORT": str(web_port),
        "WORKER_DATA_DIR": str(data_dir),
    }
    process = subprocess.Popen(
        [PYTHON, "-m", "stream_processors"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    if not wait_http(f"http://127.0.0.1:{web_port}/ready", 120):
        stop_process(process)
        raise RuntimeError("faust worker not ready")
    return process


def one_run(engine: str, count: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="kmidi-engine-"))
    with EmbeddedKafka(heap="512m", data_dir=data_dir / "kafka") as broker:
        subprocess.run(
            [
                PYTHON,
                "-m",
                "stream_processors.topics",
                "create",
                "--bootstrap",
                broker.bootstrap_servers,
            ],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        worker = start_worker(engine, broker.bootstrap_servers, data_dir / "worker")
        try:
            bootstrap = broker.bootstrap_servers
            # Warm-up: the lexicon loads and the caches fill on the first intents.
            asyncio.run(write_intents(bootstrap, intent_ids(f"{engine}-warm", WARM_UP)))
            asyncio.run(wait_for_results(bootstrap, WARM_UP, 120.0))
            processes = {"worker": psutil.Process(worker.pid), "broker": psutil.Process(broker.pid)}
            before = {name: sum(p.cpu_times()[:2]) for name, p in processes.items()}
            started = time.monotonic()
            asyncio.run(write_intents(bootstrap, intent_ids(engine, count)))
            asyncio.run(wait_for_results(bootstrap, WARM_UP + count, max(120.0, count / 5)))
            elapsed = time.monotonic() - started
            used = {name: sum(p.cpu_times()[:2]) - before[name] for name, p in processes.items()}
        finally:
            stop_process(worker)
    row = {name: rnd(1000 * seconds / count, 3) for name, seconds in used.items()}
    row["rate_per_s"] = round(count / elapsed)
    print(
        f"{engine:5s}: CPU per intent worker {row['worker']} ms, broker {row['broker']} ms; "
        f"{row['rate_per_s']} intents/s"
    )
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--intents", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"bench_worker_engine: load {os.getloadavg()[0]:.2f}, {args}")
    rows: dict[str, list[dict[str, Any]]] = {"faust": [], "raw": []}
    for _ in range(args.rounds):
        for engine in rows:
            rows[engine].append(one_run(engine, args.intents))
    totals = {
        engine: sum(r["worker"] + r["broker"] for r in runs) / len(runs)
        for engine, runs in rows.items()
    }
    workers = {engine: sum(r["worker"] for r in runs) / len(runs) for engine, runs in rows.items()}
    print(
        f"raw/faust: worker {workers['raw'] / workers['faust']:.2f}, "
        f"worker + broker {totals['raw'] / totals['faust']:.2f} "
        f"(ms per intent: faust {totals['faust']:.2f}, raw {totals['raw']:.2f})"
    )
    print(f"summary: {rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
