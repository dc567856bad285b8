"""The results view's pacing: a pause after a batch only while records arrive fast."""

from __future__ import annotations

from stream_processors.results_service.pacing import FetchPacer


def test_slow_traffic_is_never_paused() -> None:
    pacer = FetchPacer(0.01, busy_records_per_second=100, _window_start=0.0)
    # 30 records a second (10 intents): every batch is applied without a pause.
    pauses = [pacer.pause_after(3, now=t / 10) for t in range(1, 40)]
    assert pauses == [0.0] * 39
    assert 25 <= pacer.rate <= 35


def test_fast_traffic_pauses_after_each_batch_once_the_rate_is_known() -> None:
    pacer = FetchPacer(0.01, busy_records_per_second=100, _window_start=0.0)
    # 400 records a second in batches of 4: no pause until a window has been measured.
    first = [pacer.pause_after(4, now=t / 100) for t in range(1, 50)]
    assert set(first) == {0.0}
    after = [pacer.pause_after(4, now=t / 100) for t in range(50, 100)]
    assert set(after) == {0.01}
    assert pacer.rate >= 300


def test_an_empty_batch_never_pauses_and_a_quiet_window_ends_the_pausing() -> None:
    pacer = FetchPacer(0.01, busy_records_per_second=100, _window_start=0.0)
    for t in range(1, 60):
        pacer.pause_after(5, now=t / 100)
    assert pacer.pause_after(0, now=0.6) == 0.0  # an idle long poll came back empty
    assert pacer.pause_after(1, now=1.7) == 0.0  # one record in 1.1 s: not busy any more
    assert pacer.rate < 100


def test_a_zero_pause_turns_pacing_off() -> None:
    pacer = FetchPacer(0.0, busy_records_per_second=1, _window_start=0.0)
    assert [pacer.pause_after(100, now=t) for t in (0.6, 1.2, 1.8)] == [0.0] * 3
