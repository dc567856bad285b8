"""Bare FastAPI baseline for the ingress: validate the seed's body, answer 202. No broker.

The ceiling kmidi's real ingress (which also publishes to Kafka with acks=all and
idempotence) is held against, served by the same uvicorn and measured side by side with
wrk (``post.lua``) in one run of ``bench/bench_pipeline.py``.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Technical(BaseModel):
    key: str | None = None
    bpm: int | None = None
    progression: list[str] | None = None
    genre: str | None = None


class Intent(BaseModel):
    emotional_intent: str
    core_wound: str | None = None
    core_desire: str | None = None
    technical: Technical | None = None


class GenerateRequest(BaseModel):
    intent: Intent
    output_format: str = "midi"


@app.post("/v1/generate", status_code=202)
async def generate(req: GenerateRequest) -> dict[str, str]:
    rid = uuid.uuid4().hex
    return {
        "request_id": rid,
        "status": "accepted",
        "status_url": f"/v1/results/{rid}",
        "result_url": f"/v1/results/{rid}/midi",
    }
