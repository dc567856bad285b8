"""Per-client rate limits with slowapi's limiter, applied as route dependencies.

The limiter lives on ``app.state`` (one per app, so tests with different limits do not
share counters) and the limits come from settings at request time; slowapi's
decorator would pin both at import. Over the limit → 429 ``ErrorBody`` + ``Retry-After``.

A client is its API key when the service has keys (every client behind one proxy or NAT
would otherwise share one budget, and one key could spread its requests over many
addresses), else its address as the server sees it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import lru_cache
from typing import cast

from fastapi import Request
from fastapi.responses import Response
from limits import RateLimitItem, parse
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address

from producer_api.core.config import Settings
from service_common.auth import api_key_id_of
from service_common.http import ApiError, error_response, request_id_of


def build_limiter(settings: Settings) -> Limiter:
    """An in-memory limiter keyed by client (per process, like the seed's)."""
    return Limiter(
        key_func=client_of,
        enabled=settings.rate_limit_enabled,
        storage_uri="memory://",
        headers_enabled=False,
    )


def client_of(request: Request) -> str:
    """Whom a request is counted against: ``key:<id>`` with API keys, else the address."""
    key_id = api_key_id_of(request)
    return f"key:{key_id}" if key_id is not None else get_remote_address(request)


@lru_cache(maxsize=32)
def _parse(limit: str) -> RateLimitItem:
    return parse(limit)


def _retry_after(limiter: Limiter, item: RateLimitItem, *identifiers: str) -> int:
    reset_at = limiter.limiter.get_window_stats(item, *identifiers).reset_time
    return max(1, math.ceil(reset_at - time.time()))


class RateLimit:
    """Dependency counting the request against ``scope``'s limit for the client
    (:func:`client_of`: its API key, or its address without keys)."""

    def __init__(self, scope: str, limit_of: Callable[[Settings], str]) -> None:
        self.scope = scope
        self.limit_of = limit_of

    async def __call__(self, request: Request) -> None:
        limiter = cast(Limiter, request.app.state.limiter)
        if not limiter.enabled:
            return
        item = _parse(self.limit_of(cast(Settings, request.app.state.settings)))
        key = client_of(request)
        if not limiter.limiter.hit(item, key, self.scope):
            retry = _retry_after(limiter, item, key, self.scope)
            raise ApiError(
                429,
                "rate_limited",
                f"rate limit of {item} exceeded; retry in {retry} s",
                headers={"Retry-After": str(retry)},
            )


async def handle_rate_limit_exceeded(request: Request, exc: Exception) -> Response:
    """slowapi's own exception (``@limiter.limit`` routes) in the same 429 shape."""
    assert isinstance(exc, RateLimitExceeded)
    retry = 60
    view = getattr(request.state, "view_rate_limit", None)
    if view is not None:
        item, identifiers = view
        retry = _retry_after(request.app.state.limiter, item, *identifiers)
    return error_response(
        request_id_of(request),
        429,
        "rate_limited",
        f"rate limit of {exc.detail} exceeded; retry in {retry} s",
        headers={"Retry-After": str(retry)},
    )


generate_limit = RateLimit("generate", lambda settings: settings.rate_limit_generate)
interrogate_limit = RateLimit("interrogate", lambda settings: settings.rate_limit_interrogate)
