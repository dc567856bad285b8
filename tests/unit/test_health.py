"""The worker's readiness rule (the pages themselves are tested against a real worker)."""

from __future__ import annotations

import pytest

from stream_processors.health import readiness


@pytest.mark.parametrize(
    ("rebalancing", "in_recovery", "recovered", "ready"),
    [
        (False, False, True, True),
        (True, False, True, False),
        (False, True, True, False),
        (False, False, False, False),
        (True, True, False, False),
    ],
)
def test_ready_only_between_rebalances_with_tables_rebuilt(
    rebalancing: bool, in_recovery: bool, recovered: bool, ready: bool
) -> None:
    state = readiness(rebalancing=rebalancing, in_recovery=in_recovery, recovered=recovered)
    assert state["ready"] is ready
    assert state["rebalancing"] is rebalancing
    assert state["recovering"] is (in_recovery or not recovered)
