"""faust's aiokafka transport with a configurable fetch wait for the worker consumer.

faust-streaming 0.15 builds the worker's ``AIOKafkaConsumer`` with ``fetch_max_wait_ms=1500``
hard-coded; no setting reaches it. The consumer keeps the value in ``_fetch_max_wait_ms``
until ``start()`` hands it to its fetcher, so setting it right after construction is
enough. Measured effect on the per-hop latency is in ``docs/worker.md``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from faust.transport.drivers import aiokafka as faust_aiokafka


class LowLatencyConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """The worker consumer thread, with ``fetch_max_wait_ms`` from the app's settings."""

    fetch_max_wait_ms: ClassVar[int] = 1500  # faust's value; replaced by ``make_transport``

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Private attribute of AIOKafkaConsumer (aiokafka 0.14): read once, in start().
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms
        return consumer


def make_transport(fetch_max_wait_ms: int) -> type[Any]:
    """A faust Transport class whose worker consumer waits at most ``fetch_max_wait_ms``."""

    class Thread(LowLatencyConsumerThread):
        pass

    Thread.fetch_max_wait_ms = fetch_max_wait_ms

    class Consumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> LowLatencyConsumerThread:
            return Thread(self, loop=self.loop, beacon=self.beacon)

    class Transport(faust_aiokafka.Transport):
        pass

    Transport.Consumer = Consumer
    return Transport
