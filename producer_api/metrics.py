"""Event metrics of the ingress (HTTP metrics live in ``service_common.http``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from service_common.build_info import build_info_gauge

BUILD_INFO = build_info_gauge()

EVENTS_PUBLISHED = Counter(
    "kmidi_events_published",
    "Events the ingress tried to publish, by topic and outcome (ok, timeout, error, unavailable).",
    ["topic", "outcome"],
)
PUBLISH_DURATION = Histogram(
    "kmidi_publish_duration_seconds",
    "Time from send to the broker's acknowledgement (acks=all), by topic.",
    ["topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
INTERROGATION_REPLIES = Counter(
    "kmidi_interrogation_replies",
    "Replies read from the replies topic: matched a waiting request, unmatched, or invalid.",
    ["outcome"],
)
INTERROGATION_WAIT = Histogram(
    "kmidi_interrogation_wait_seconds",
    "Time from publishing a turn to receiving its reply (timeouts excluded).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
