"""Benchmark: what the OpenTelemetry spans cost the worker, off (the default) and on.

    .venv/bin/python bench/bench_tracing.py [--messages 200] [--rounds 5]
        [--repeats 4] [--before REV] [--after REV]

The interrogation stage (parse, analyse, plan, render, publish plan and result) runs in
this process on in-memory records, with a publisher whose broker acknowledges at once,
each record inside the consume span the worker's agents open. It runs on two snapshots of
the repository taken with ``git archive``, each in its own Python process:

- ``before``: the commit before the spans were added (default: the parent of the commit
  that added ``service_common/telemetry.py``);
- ``after``: the commit that added them (``--after HEAD`` for the code as it is now),
  tracing off, then on. "On" exports to an OTLP endpoint nobody listens on, with the
  batch processor's delay set beyond the run, so the spans are created and queued but
  never sent: what a request pays, not the exporter.

Printed: CPU seconds per message of each (median of the rounds, best of the repeats), the
ratios after-off / before and after-on / after-off, and the CPU time of one message's
tracing calls measured alone, off and on. The machine's load moves the whole-stage figures
by several per cent from run to run; the calls measured alone are the stable figure.
Nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEXTS = (
    "I am feeling grief",
    "we won the championship!",
    "calm morning by the sea, a little nostalgic",
    "furious about the broken promise",
    "tender love for my daughter",
)


def snapshot(revision: str, into: Path) -> Path:
    """The repository at ``revision``, extracted into ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def tracing_commit() -> str:
    """The commit that added the spans (``service_common/telemetry.py``)."""
    added = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "log",
            "--diff-filter=A",
            "--format=%H",
            "--",
            "service_common/telemetry.py",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not added:
        raise SystemExit("service_common/telemetry.py is not committed yet: pass --before")
    return added[-1]


def run_measure(
    tree: Path, messages: int, rounds: int, hooks: list[float], *, tracing: bool
) -> float:
    """Median seconds per message, measured in a fresh interpreter on ``tree``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env["PYTHONPATH"] = str(tree)
    if tracing:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9"  # discard port, never sent
        env["OTEL_BSP_SCHEDULE_DELAY"] = "3600000"
        env["OTEL_BSP_MAX_QUEUE_SIZE"] = str(messages * rounds * 16)
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--measure", str(messages), str(rounds)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"measuring {tree} failed:\n{out.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    hooks.append(float(report["hooks_seconds_per_message"]))
    if Path(report["module"]).resolve().parents[2] != tree.resolve():
        raise SystemExit(f"imported {report['module']} instead of the snapshot in {tree}")
    if report["tracing"] != tracing:
        raise SystemExit(f"tracing was {report['tracing']}, expected {tracing}")
    return float(report["seconds_per_message"])


async def measure(messages: int, rounds: int) -> dict[str, Any]:
    """The stage on ``messages`` records, ``rounds`` times (run inside a snapshot)."""
    from schemas.events import IntentSubmitted, dump_event
    from schemas.topics import INTENTS
    from stream_processors.publishing import Publisher
    from stream_processors.records import InputRecord
    from stream_processors.stages import interrogation

    try:
        from service_common import telemetry
    except ImportError:  # the snapshot before the spans
        telemetry = None  # type: ignore[assignment]
    tracing = telemetry is not None and telemetry.configure_tracing("bench")
    logging.disable(logging.WARNING)

    async def acknowledged(*_: object) -> None:
        return None

    publisher = Publisher(acknowledged, attempts=1, max_wait=0.1)
    records = []
    for index in range(messages):
        request_id = f"bench-{index}"
        event = IntentSubmitted.model_validate(
            {
                "request_id": request_id,
                "intent": {"emotional_intent": TEXTS[index % len(TEXTS)]},
                "seed": index,
            }
        )
        headers = {
            "x-request-id": request_id,
            "traceparent": f"00-{index:032x}-{index + 1:016x}-01",
        }
        records.append(
            InputRecord(INTENTS, 0, index, request_id.encode(), dump_event(event), headers)
        )

    async def one(record: InputRecord) -> None:
        if telemetry is None:
            await interrogation.process_intent(record, publisher)
            return
        with telemetry.consume_span(
            record.topic, record.partition, record.offset, record.headers, consumer_group="bench"
        ):
            await interrogation.process_intent(record, publisher)

    for record in records[: len(TEXTS) * 2]:  # warm-up: lexicons, catalogues
        await one(record)
    timings = []
    for _ in range(rounds):
        started = time.process_time()  # CPU time: other processes' load moves it less
        for record in records:
            await one(record)
        timings.append((time.process_time() - started) / messages)
    return {
        "seconds_per_message": statistics.median(timings),
        "hooks_seconds_per_message": hooks_per_message() if telemetry is not None else 0.0,
        "tracing": tracing,
        "module": interrogation.__file__,
    }


def hooks_per_message(repeat: int = 20_000) -> float:
    """CPU seconds of the tracing calls one intent makes (1 consume, 3 domain and 2 publish
    spans, 2 header rewrites), measured alone."""
    from service_common import telemetry

    headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    outgoing = [("traceparent", headers["traceparent"].encode())]
    started = time.process_time()
    for offset in range(repeat):
        with telemetry.consume_span("t", 0, offset, headers, consumer_group="bench"):
            for name in ("analyse intent", "compose plan", "render midi"):
                with telemetry.span(name):
                    pass
            for topic in ("p", "r"):
                with telemetry.publish_span(topic):
                    telemetry.with_current_traceparent(outgoing)
    return (time.process_time() - started) / repeat


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--measure"]:
        print(json.dumps(asyncio.run(measure(int(args[1]), int(args[2])))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", default=None, help="git revision without the spans")
    parser.add_argument("--after", default=None, help="git revision with the spans")
    parser.add_argument("--repeats", type=int, default=4, help="interleaved runs of each")
    options = parser.parse_args(args)
    before_rev = options.before or f"{tracing_commit()}^"
    after_rev = options.after or tracing_commit()
    with tempfile.TemporaryDirectory(prefix="kmidi-bench-tracing-") as folder:
        before = snapshot(before_rev, Path(folder) / "before")
        after = snapshot(after_rev, Path(folder) / "after")
        # Interleaved, so a change in the machine's load hits both sides alike.
        runs: dict[str, list[float]] = {"before": [], "after_off": [], "after_on": []}
        hooks_off: list[float] = []
        hooks_on: list[float] = []
        n, r = options.messages, options.rounds
        order = [
            ("before", before, [], False),
            ("after_off", after, hooks_off, False),
            ("after_on", after, hooks_on, True),
        ]
        for repeat in range(options.repeats):
            # Every other repeat backwards, so no side always runs first.
            for name, tree, hooks, tracing in order if repeat % 2 == 0 else order[::-1]:
                runs[name].append(run_measure(tree, n, r, hooks, tracing=tracing))
    best = {name: min(values) for name, values in runs.items()}
    print(f"before {before_rev}, after {after_rev}: {n} messages x {r} rounds, CPU time")
    for name, value in best.items():
        every = ", ".join(f"{v * 1000:.3f}" for v in runs[name])
        print(f"  {name:10s} {value * 1000:8.3f} ms per message (best of: {every})")
    print(f"  ratio after_off / before   = {best['after_off'] / best['before']:.3f}")
    print(f"  ratio after_on / after_off = {best['after_on'] / best['after_off']:.3f}")
    for state, values in (("off", hooks_off), ("on", hooks_on)):
        cost = min(values)
        print(
            f"  tracing calls alone, {state:3s}: {cost * 1e6:8.2f} us per message"
            f" = {cost / best['after_off']:.5f} of a message"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
