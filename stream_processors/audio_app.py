"""The audio stage's faust app: its own consumer group and process, so audio never delays MIDI.

Run with ``python -m stream_processors.audio_app``. It reads ``kmidi.audio-requests.v1`` (the
results that asked for audio) as the group ``AUDIO_WORKER_ID`` (default ``kmidi-audio``)
and writes updated results to ``kmidi.results.v1``; every other setting is the worker's
(``stream_processors.config``).
"""

from __future__ import annotations

from typing import Any

import faust
from pydantic import AliasChoices, Field

from schemas.topics import AUDIO_REQUESTS, TOPICS
from stream_processors.app import KmidiApp, track_consumer_lag
from stream_processors.config import WorkerSettings
from stream_processors.health import add_health_pages
from stream_processors.stages.audio import process_result


class AudioWorkerSettings(WorkerSettings):
    """The worker's settings with the audio stage's own consumer group."""

    worker_id: str = Field(
        default="kmidi-audio",
        validation_alias=AliasChoices("audio_worker_id"),
        description="faust app id and consumer group of the audio stage.",
    )


settings = AudioWorkerSettings()
app = KmidiApp(settings, service="kmidi-audio")
add_health_pages(app)
requests_topic = app.topic(
    AUDIO_REQUESTS,
    partitions=next(spec.partitions for spec in TOPICS if spec.name == AUDIO_REQUESTS),
    internal=False,  # created by ensure_topics with its spec
    key_serializer="raw",
    value_serializer="raw",
)


publisher = app.new_publisher()
track_consumer_lag(app, (AUDIO_REQUESTS,), interval=settings.consumer_lag_interval)


@app.agent(requests_topic, name="audio")
async def audio_agent(stream: Any) -> None:
    """kmidi.audio-requests.v1 (completed, audio pending) → kmidi.results.v1 with the audio."""
    await app.process_each(stream, lambda r: process_result(r, publisher))


def main() -> None:
    """Start the audio worker; returns only through SystemExit when it stops."""
    faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
