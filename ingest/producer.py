"""One confluent-kafka producer with a thread that polls it, so callbacks fire promptly.

Neither the gateway's event loop nor the bridge's MQTT thread ever blocks on
Kafka: they call `KafkaSink.produce` (which only enqueues) and learn the
outcome from the delivery callback, which runs on the poll thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """Kafka's answer for one record: where it landed, or the error."""

    topic: str
    partition: int | None
    offset: int | None
    error: str | None
    seconds: float


OnDelivery = Callable[[Delivery], None]
Headers = list[tuple[str, str | bytes | None]]
Outgoing = tuple[str, bytes | None, bytes, Headers]
"""topic, key, value, headers"""


class KafkaSink:
    def __init__(self, conf: dict[str, Any], *, queue_max: int) -> None:
        self.queue_max = queue_max
        self._producer = Producer({**conf, "queue.buffering.max.messages": queue_max})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="kafka-poll", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    def room(self) -> int:
        """How many more records the local queue takes before produce raises BufferError."""
        return self.queue_max - len(self._producer)

    def produce(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers, on_delivery: OnDelivery
    ) -> None:
        """Enqueue one record; raises BufferError when the queue is full."""
        started = time.perf_counter()

        def done(err: KafkaError | None, msg: Message) -> None:
            seconds = time.perf_counter() - started
            if err is not None:
                on_delivery(Delivery(topic, None, None, err.str(), seconds))
            else:
                on_delivery(Delivery(topic, msg.partition(), msg.offset(), None, seconds))

        self._producer.produce(topic, value=value, key=key, headers=headers, on_delivery=done)

    def produce_all_async(self, records: list[Outgoing]) -> asyncio.Future[list[Delivery]]:
        """`produce` for an event loop: one future for a whole request, resolved by the poll
        thread once Kafka answered for every record (one wake-up of the loop, not one each)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Delivery]] = loop.create_future()
        answers: list[Delivery | None] = [None] * len(records)
        remaining = [len(records)]

        def settle() -> None:
            if not future.done():  # the request may have been cancelled meanwhile
                future.set_result([a for a in answers if a is not None])

        def answer(index: int) -> OnDelivery:
            def done(delivery: Delivery) -> None:
                # Only the poll thread (or close()'s flush after it stopped) runs this.
                answers[index] = delivery
                remaining[0] -= 1
                if remaining[0] == 0:
                    try:
                        loop.call_soon_threadsafe(settle)
                    except RuntimeError:  # the loop is gone (shutdown flush)
                        pass

            return done

        for i, (topic, key, value, headers) in enumerate(records):
            self.produce(topic, key, value, headers, answer(i))
        return future

    def topics(self, timeout: float) -> set[str]:
        """Topics the cluster has; raises KafkaException when no broker answers."""
        return set(self._producer.list_topics(timeout=timeout).topics)

    def close(self, timeout: float = 30.0) -> int:
        """Stop polling and flush; returns how many records Kafka never acknowledged."""
        self._stop.set()
        self._thread.join()
        left: int = self._producer.flush(timeout)
        if left:
            log.error("%d records were not acknowledged by Kafka before shutdown", left)
        return left
