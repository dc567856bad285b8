"""CPU of the interrogation stage's own code per intent, against composing the same piece.

No broker and no faust: ``process_intent`` runs on in-memory records with a publisher that
only keeps the bytes, so what is left over composing is the stage's plumbing (parsing,
plan and result documents, the artifact store, logging, metrics, spans). Run by
``bench_pipeline.py`` in a child process (its metrics must not meet the results service's);
prints one JSON object.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ["ARTIFACTS_DIR"] = tempfile.mkdtemp(prefix="kmidi-stage-cost-")

from bench_pipeline import TEXTS  # noqa: E402

from kmidi.compose import compose  # noqa: E402
from schemas.intent import Intent  # noqa: E402
from service_common.kafka_headers import KafkaHeaders  # noqa: E402
from service_common.logging import configure_logging  # noqa: E402
from stream_processors.publishing import Publisher  # noqa: E402
from stream_processors.records import InputRecord  # noqa: E402
from stream_processors.stages.interrogation import derive_seed, process_intent  # noqa: E402


def record(index: int) -> InputRecord:
    request_id = f"stage-{index}"
    value = {
        "schema": "kmidi.intent.v1",
        "request_id": request_id,
        "intent": {"emotional_intent": TEXTS[index % len(TEXTS)]},
    }
    return InputRecord(
        "kmidi.intents.v1",
        0,
        index,
        request_id.encode(),
        json.dumps(value).encode(),
        {"x-request-id": request_id},
        time.time(),
    )


async def run_stage(first: int, count: int, publisher: Publisher) -> None:
    for index in range(first, first + count):
        await process_intent(record(index), publisher)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    configure_logging("kmidi-worker", "INFO")
    # The worker logs to a file or a pipe; /dev/null keeps a terminal's cost out.
    devnull = open(os.devnull, "w")  # noqa: SIM115 - for the whole run
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    sent: list[int] = []

    async def keep(topic: str, key: bytes | None, value: bytes, headers: KafkaHeaders) -> None:
        sent.append(len(value))

    publisher = Publisher(keep, attempts=1, max_wait=0.1)
    asyncio.run(run_stage(0, 50, publisher))  # warm caches as a running worker has them
    gc.freeze()
    intents = [Intent(emotional_intent=TEXTS[index % len(TEXTS)]) for index in range(5)]
    stage = piece = 0.0
    chunk = 50  # alternated in small chunks, so a busy machine weighs on both alike
    for first in range(1000, 1000 + count, chunk):
        started = time.process_time()
        asyncio.run(run_stage(first, chunk, publisher))
        stage += time.process_time() - started
        started = time.process_time()
        for index in range(first, first + chunk):
            compose(intents[index % len(TEXTS)], seed=derive_seed(f"stage-{index}"))
        piece += time.process_time() - started
    count = (count // chunk) * chunk
    stage, piece = stage / count, piece / count
    result = {
        "stage_ms": round(1000 * stage, 3),
        "compose_ms": round(1000 * piece, 3),
        "plumbing_ms": round(1000 * (stage - piece), 3),
        "bytes_out_per_intent": sum(sent[-2:]),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
