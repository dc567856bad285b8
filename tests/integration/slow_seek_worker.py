"""``python -m tests.integration.slow_seek_worker <faust worker args>``: a slow seek.

Runs the faust command line with faust's committed-offset lookup delayed by
``KMIDI_TEST_SLOW_SEEK_SECONDS``. A real broker answers that lookup in milliseconds, which
made a race with message delivery during the lookup rare (about 1 restart in 5 lost
messages before ``stream_processors.driver`` fixed it); the delay makes every restart of
a test worker meet that window.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from faust.cli.faust import cli
from faust.transport.consumer import ThreadDelegateConsumer

_original = ThreadDelegateConsumer.seek_to_committed


async def _slow_seek_to_committed(self: ThreadDelegateConsumer) -> Mapping[Any, int]:
    await asyncio.sleep(float(os.environ.get("KMIDI_TEST_SLOW_SEEK_SECONDS", "0")))
    return await _original(self)


if __name__ == "__main__":
    ThreadDelegateConsumer.seek_to_committed = _slow_seek_to_committed  # type: ignore[method-assign]
    cli()
