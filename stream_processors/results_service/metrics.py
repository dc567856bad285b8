"""Prometheus metrics of the results service (base units, low-cardinality labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from service_common.build_info import build_info_gauge

BUILD_INFO = build_info_gauge()

VIEW_ENTRIES = Gauge(
    "kmidi_results_view_entries", "Requests held in the results service's materialised view."
)
VIEW_PAYLOAD_BYTES = Gauge(
    "kmidi_results_view_payload_bytes",
    "MIDI and (deflated) plan bytes held by the view: the bulk of its memory.",
)
VIEW_EVENTS = Counter(
    "kmidi_results_view_events_total",
    "Records read by the results view, by topic and what applying them did.",
    ["topic", "outcome"],
)
VIEW_EVICTIONS = Counter(
    "kmidi_results_view_evictions_total",
    "Requests dropped from the view because RESULTS_MAX_ENTRIES was reached.",
)
END_TO_END_LATENCY = Histogram(
    "kmidi_result_readable_latency_seconds",
    "From an intent's submitted_at to its result being seen live by the results service.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
)
CONSUMER_LAG = Gauge(
    "kmidi_results_consumer_lag",
    "Records between the results view's position and the end of each topic-partition.",
    ["topic", "partition"],
)
CAUGHT_UP = Gauge(
    "kmidi_results_caught_up",
    "1 once the view has read up to the start-up end offsets of every partition.",
)
BROKER_CONNECTED = Gauge(
    "kmidi_results_broker_connected", "1 while the results consumer can reach the broker."
)
CONSUMER_RECONNECTS = Counter(
    "kmidi_results_consumer_reconnects_total",
    "Times the results consumer was rebuilt after losing the broker.",
)
WAITERS = Gauge(
    "kmidi_results_waiters", "Long-polls and event streams waiting for a request to change."
)
