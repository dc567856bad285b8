"""The Idempotency-Key store: first claim wins across connections (processes) on one file."""

from __future__ import annotations

from pathlib import Path

import pytest

from producer_api.core.config import Settings
from producer_api.idempotency import (
    IdempotencyStore,
    check_key,
    open_idempotency_store,
    replay_or_refuse,
    require_store,
)
from service_common.http import ApiError


async def test_the_first_claim_wins_across_stores_on_one_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite3"
    first, second = (IdempotencyStore(path, retention_seconds=3600) for _ in range(2))
    try:
        mine = await first.claim("k1", "body-a", "req-1")
        assert mine.fresh
        assert mine.request_id == "req-1"
        theirs = await second.claim("k1", "body-a", "req-2")
        assert not theirs.fresh
        assert theirs.request_id == "req-1"
        with pytest.raises(ApiError) as in_use:
            replay_or_refuse(theirs, "body-a")  # not published yet
        assert (in_use.value.status_code, in_use.value.code) == (409, "idempotency_key_in_use")
        await first.complete("k1", "req-1", b'{"request_id": "req-1"}')
        done = await second.claim("k1", "body-a", "req-3")
        assert replay_or_refuse(done, "body-a") == b'{"request_id": "req-1"}'
        with pytest.raises(ApiError) as reused:
            replay_or_refuse(done, "body-b")
        assert (reused.value.status_code, reused.value.code) == (422, "idempotency_key_reused")
    finally:
        first.close()
        second.close()


async def test_a_failed_claim_is_released_and_an_expired_key_is_free(tmp_path: Path) -> None:
    store = IdempotencyStore(tmp_path / "keys.sqlite3", retention_seconds=3600)
    try:
        await store.claim("k", "body", "req-1")
        await store.release("k", "req-1")
        assert (await store.claim("k", "body", "req-2")).fresh
    finally:
        store.close()
    expiring = IdempotencyStore(tmp_path / "keys.sqlite3", retention_seconds=1e-6)
    try:
        assert (await expiring.claim("k", "body", "req-3")).fresh, "req-2's claim expired"
    finally:
        expiring.close()


@pytest.mark.parametrize("key", ["", "x" * 256, "café", "tab\there"])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(ApiError) as refused:
        check_key(key)
    assert refused.value.code == "invalid_idempotency_key"


def test_an_unwritable_store_is_reported_and_only_keyed_requests_fail(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings = Settings(idempotency_db=blocker / "keys.sqlite3")
    assert open_idempotency_store(settings) is None
    with pytest.raises(ApiError) as unavailable:
        require_store(None)
    assert (unavailable.value.status_code, unavailable.value.code) == (
        503,
        "idempotency_unavailable",
    )
    writable = open_idempotency_store(Settings(idempotency_db=tmp_path / "keys.sqlite3"))
    assert writable is not None
    writable.close()
