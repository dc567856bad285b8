"""Why a Kafka client could not connect, in words an operator can act on.

aiokafka's bootstrap logs each address's error and then raises only "Unable to bootstrap
from [...]": a wrong password, an untrusted certificate and a closed port all look the
same. ``connection_failure_reason`` connects once more to the first address, through the
same ``KafkaConnection``, and reports what that raised.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.conn import collect_hosts, create_conn  # type: ignore[import-untyped]
from aiokafka.errors import KafkaConnectionError  # type: ignore[import-untyped]

from schemas.kafka_connection import KafkaConnection

_DIAGNOSE_TIMEOUT_SECONDS = 5.0


def describe(exc: BaseException) -> str:
    """``ErrorType: message``, unless the message names its type already (aiokafka's do)."""
    name, text = type(exc).__name__, str(exc).strip()
    if not text:
        return name
    return text if name in text else f"{name}: {text}"


async def connection_failure_reason(connection: KafkaConnection, exc: BaseException) -> str:
    """The cause behind ``exc``: the first address's own error when aiokafka hid it."""
    if not (isinstance(exc, KafkaConnectionError) and "bootstrap" in str(exc)):
        return describe(exc)
    host, port, _ = collect_hosts(connection.bootstrap_servers, randomize=False)[0]
    kwargs: dict[str, Any] = connection.aiokafka_kwargs()
    del kwargs["bootstrap_servers"]
    try:
        async with asyncio.timeout(_DIAGNOSE_TIMEOUT_SECONDS):
            conn = await create_conn(host, port, **kwargs)
    except Exception as cause:  # OSError, TLS errors, aiokafka's authentication errors
        return f"{host}:{port}: {describe(cause)}"
    conn.close()
    return describe(exc)  # the first address answers now; another one failed
