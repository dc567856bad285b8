"""The results view's memory bound and its light reading of plans published with a result."""

from __future__ import annotations

import os

from schemas.topics import INTENTS, PLANS, RESULTS
from service_common.kafka_headers import build_headers
from stream_processors.results_service.store import (
    ENTRY_OVERHEAD_BYTES,
    Outcome,
    ResultsView,
)
from tests.unit.test_results_store import AFFECT, MIDI, PLAN, intent, key, plan, result

RENDERED_HEADER = "kmidi-rendered"
"""stream_processors.stages.generation.RENDERED_HEADER (not imported: the worker's
metrics share names with the results service's and cannot be registered twice)."""
TRACEPARENT = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"


def rendered_headers(request_id: str) -> list[tuple[str, bytes]]:
    return [*build_headers(request_id, TRACEPARENT), (RENDERED_HEADER, b"interrogation")]


def test_max_bytes_evicts_least_recently_used_first() -> None:
    big = os.urandom(40_000)  # does not deflate: its size is what the view holds
    view = ResultsView(max_entries=100, max_bytes=3 * (40_000 + ENTRY_OVERHEAD_BYTES) + 10_000)
    for name in ("a", "b", "c"):
        view.apply(RESULTS, key(name), result(name, midi=big))
    assert len(view) == 3
    view.get("a")  # read: now the most recently used

    applied = view.apply(RESULTS, key("d"), result("d", midi=big))

    assert applied.evicted == 1
    assert "b" not in view
    assert {"a", "c", "d"} <= {name for name in "abcd" if name in view}
    assert view.memory_bytes <= view.max_bytes  # type: ignore[operator]


def test_max_bytes_keeps_the_newest_entry_even_when_it_alone_is_larger() -> None:
    view = ResultsView(max_entries=10, max_bytes=1024 * 1024)
    view.apply(INTENTS, key("small"), intent("small"))
    view.apply(RESULTS, key("huge"), result("huge", midi=os.urandom(2 * 1024 * 1024)))
    assert "huge" in view
    assert "small" not in view
    assert view.get("huge") is not None
    entry = view.get("huge")
    assert entry is not None
    assert entry.midi is not None
    assert len(entry.midi) == 2 * 1024 * 1024


def test_midi_is_held_deflated_and_served_whole() -> None:
    view = ResultsView(max_entries=10)
    view.apply(RESULTS, key("r1"), result("r1"))
    entry = view.get("r1")
    assert entry is not None
    assert entry.midi == MIDI
    assert entry.payload_bytes == len(entry.midi_zlib or b"") + len(entry.plan_zlib or b"")


def test_a_plan_published_with_its_result_is_read_without_its_plan() -> None:
    view = ResultsView(max_entries=10)
    view.apply(INTENTS, key("r1"), intent("r1"))

    applied = view.apply(PLANS, key("r1"), plan("r1"), rendered_headers("r1"))

    assert applied.outcome is Outcome.APPLIED
    entry = view.get("r1")
    assert entry is not None
    assert (entry.status, entry.seed, entry.affect) == ("processing", 7, AFFECT)
    assert entry.plan() is None, "the result brings the plan"

    view.apply(RESULTS, key("r1"), result("r1"), rendered_headers("r1"))
    assert entry.plan() == PLAN


def test_a_marked_plan_after_its_result_changes_nothing() -> None:
    view = ResultsView(max_entries=10)
    view.apply(RESULTS, key("r1"), result("r1"))
    applied = view.apply(PLANS, key("r1"), plan("r1"), rendered_headers("r1"))
    assert applied.outcome is Outcome.STALE
    entry = view.get("r1")
    assert entry is not None
    assert entry.status == "completed"
    assert entry.plan() == PLAN


def test_a_marked_plan_that_is_not_a_plan_is_still_junk() -> None:
    view = ResultsView(max_entries=10)
    bad = b'{"schema": "kmidi.plan.v1", "request_id": "r1", "seed": "x"}'
    applied = view.apply(PLANS, key("r1"), bad, rendered_headers("r1"))
    assert (applied.outcome, applied.reason) == (Outcome.INVALID, "schema_invalid")
