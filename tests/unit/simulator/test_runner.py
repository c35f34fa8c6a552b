"""The producer loop: stops on request, flushes, and owns up to what was not acknowledged."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable

from simulator.runner import run
from simulator.transport import Record
from tests.unit.simulator.helpers import simulation


class FlakyTransport:
    """Acknowledges all but the last ``lose`` records it was given."""

    def __init__(self, lose: int = 0) -> None:
        self.sent = self.acked = self.failed = self.bytes_sent = 0
        self.lose = lose
        self.flushed = self.closed = False

    def send(self, records: Iterable[Record]) -> None:
        batch = list(records)
        self.sent += len(batch)
        self.bytes_sent += sum(len(v) for _, v in batch)

    def poll(self, timeout: float) -> None:
        return None

    def flush(self, timeout: float) -> int:
        self.flushed = True
        self.acked = self.sent - self.lose
        return self.lose

    def close(self) -> None:
        self.closed = True


def test_a_full_run_sends_every_record_and_flushes() -> None:
    transport = FlakyTransport()
    result = run(simulation(cars=5, duration_s=30), transport, speedup=math.inf,
                 stop=threading.Event())  # fmt: skip
    assert result.ok and result.sent == 150 and transport.flushed and transport.closed


def test_unacknowledged_records_make_the_run_fail() -> None:
    result = run(simulation(cars=5, duration_s=30), FlakyTransport(lose=3), speedup=math.inf,
                 stop=threading.Event())  # fmt: skip
    assert not result.ok and result.unacked == 3


def test_a_stop_request_ends_after_the_current_batch_and_still_flushes() -> None:
    stop = threading.Event()
    stop.set()
    transport = FlakyTransport()
    result = run(simulation(cars=5, duration_s=30), transport, speedup=1.0, stop=stop)
    assert result.interrupted and result.sent == 5 and transport.flushed and result.ok
