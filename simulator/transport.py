"""Where records go: the seam between the generator and the outside world.

`KafkaTransport` produces to the platform's topic through the shared producer
settings; `FileTransport` writes JSON lines to a file (``/dev/null`` measures
generation alone). ``ingest.client`` holds the HTTP and MQTT transports to the
ingest gateway, with the same four methods (``--to http|mqtt``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from fleet.config import KafkaSettings
from simulator.errors import SimulatorError

log = logging.getLogger(__name__)

Record = tuple[bytes, bytes]


class Transport(Protocol):
    @property
    def sent(self) -> int: ...
    @property
    def acked(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def bytes_sent(self) -> int: ...

    def send(self, records: Iterable[Record]) -> None: ...

    def poll(self, timeout: float) -> None:
        """Serve delivery reports for up to ``timeout`` seconds (also the loop's sleep)."""

    def flush(self, timeout: float) -> int:
        """Wait for outstanding deliveries; returns how many are still unacknowledged."""

    def close(self) -> None: ...


class KafkaTransport:
    """Keyed by VIN through the platform producer: acks=all, idempotence, murmur2.

    librdkafka reports only failed deliveries to the callback: a Python call per
    acknowledged record cost ~12 % of the producing rate. Every record produced
    either fails (counted in the callback), is still queued or in flight
    (``len(producer)``), or was acknowledged, so ``acked`` is exact.
    """

    def __init__(self, topic: str, settings: KafkaSettings | None = None, **overrides: Any) -> None:
        self.topic = topic
        self.stop = threading.Event()
        """Set by the runner's signal handler; `send` gives up waiting for room when set."""
        self.settings = settings or KafkaSettings()
        self.sent = self.failed = self.bytes_sent = 0
        self.first_error: str | None = None
        conf = self.settings.producer_config(
            **{"logger": log, "delivery.report.only.error": True, **overrides}
        )
        self.bootstrap = conf["bootstrap.servers"]
        self._producer = Producer(conf)

    def check(self, timeout: float = 10.0) -> None:
        """Fail fast, before anything is sent, if the broker or the topic is not there."""
        try:
            meta = self._producer.list_topics(self.topic, timeout=timeout)
        except KafkaException as exc:
            raise SimulatorError(
                f"no Kafka broker answered at {self.bootstrap} within {timeout:.0f}s "
                "(start one with `python -m infra kafka up`, or set KAFKA_BOOTSTRAP_SERVERS)"
            ) from exc
        topic = meta.topics.get(self.topic)
        if topic is None or topic.error is not None:
            reason = topic.error.str() if topic is not None and topic.error else "not found"
            raise SimulatorError(
                f"topic {self.topic!r} is not usable at {self.bootstrap}: {reason}"
            )

    @property
    def acked(self) -> int:
        return self.sent - self.failed - len(self._producer)

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.failed += 1
            if self.first_error is None:
                self.first_error = err.str()
                log.error("delivery to %s failed: %s", msg.topic(), err.str())

    def send(self, records: Iterable[Record]) -> None:
        produce, topic, done = self._producer.produce, self.topic, self._delivered
        count = size = 0
        for key, value in records:
            while True:
                try:
                    produce(topic, value, key, on_delivery=done)
                    break
                except BufferError:
                    # The local queue is full: the broker is slower than we are,
                    # or gone; serving delivery reports makes room. A stop request
                    # (SIGINT/SIGTERM) must not wait for a broker that may never return.
                    if self.stop.is_set():
                        self.sent += count
                        self.bytes_sent += size
                        return
                    self._producer.poll(0.05)
            count += 1
            size += len(value)
        self.sent += count
        self.bytes_sent += size
        self._producer.poll(0)

    def poll(self, timeout: float) -> None:
        self._producer.poll(timeout)

    def flush(self, timeout: float) -> int:
        return int(self._producer.flush(timeout))

    def close(self) -> None:
        self.flush(0)


class FileTransport:
    """JSON lines to a file; every written record counts as acknowledged."""

    def __init__(self, path: Path) -> None:
        self.sent = self.acked = self.failed = self.bytes_sent = 0
        try:
            self._out: IO[bytes] = path.open("wb", buffering=1 << 20)
        except OSError as exc:
            raise SimulatorError(f"cannot write records to {path}: {exc.strerror}") from exc

    def send(self, records: Iterable[Record]) -> None:
        values = [value for _, value in records]
        self._out.write(b"\n".join(values) + b"\n" if values else b"")
        self.sent += len(values)
        self.acked += len(values)
        self.bytes_sent += sum(map(len, values))

    def poll(self, timeout: float) -> None:
        return None

    def flush(self, timeout: float) -> int:
        self._out.flush()
        return 0

    def close(self) -> None:
        self._out.close()
