"""Prometheus metrics of the stream-processing stages (seconds, ``_total`` counters).

Labels stay low-cardinality: stage, topic, partition, reason, status — never a request ID.
faust's own Prometheus sensor is not used: it reports milliseconds and counts in gauges.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from service_common.build_info import build_info_gauge

BUILD_INFO = build_info_gauge()

STAGE_EVENTS_IN = Counter(
    "kmidi_stage_events_in_total", "Messages a stage took from its input topic.", ["stage"]
)
STAGE_SKIPPED = Counter(
    "kmidi_stage_events_skipped_total",
    "Messages a stage left alone because an earlier stage already did its work, by reason.",
    ["stage", "reason"],
)
STAGE_EVENTS_OUT = Counter(
    "kmidi_stage_events_out_total",
    "Records a stage published (acknowledged by the broker).",
    ["stage", "topic"],
)
STAGE_DURATION = Histogram(
    "kmidi_stage_duration_seconds",
    "Time a stage spent on one message, parsing to last publish acknowledged.",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
STAGE_ERRORS = Counter(
    "kmidi_stage_errors_total",
    "Messages a stage could not turn into a normal output, by reason.",
    ["stage", "reason"],
)
DEADLETTERED = Counter(
    "kmidi_deadlettered_total",
    "Messages written to the dead-letter topic, by stage and reason.",
    ["stage", "reason"],
)
CONSUMER_LAG = Gauge(
    "kmidi_consumer_lag",
    "Highwater minus committed offset, per assigned topic-partition.",
    ["topic", "partition"],
)
END_TO_END_LATENCY = Histogram(
    "kmidi_result_published_latency_seconds",
    "From an intent's submitted_at to its result being acknowledged by the broker.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
RESULTS = Counter(
    "kmidi_results_total", "Results published to kmidi.results.v1, by status.", ["status"]
)
PUBLISH_RETRIES = Counter(
    "kmidi_publish_retries_total",
    "Publish attempts that failed with a transient error and were retried.",
    ["topic"],
)


def start_metrics_server(port: int, host: str = "0.0.0.0") -> None:
    """Serve ``/metrics`` (prometheus-client's registry) on its own thread; 0 = off."""
    if port:
        start_http_server(port, addr=host)
