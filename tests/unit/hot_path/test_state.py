"""The write-behind state cache, and the offset-gap repair the worker applies before commits."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import IntervalTree

from hot_path.detector import VehicleState
from hot_path.state import (
    StateCache,
    decode_state,
    drop_seen_from_gaps,
    holes_by_commit,
    in_flight,
    lost_heads,
)

from .readings import NOW, VIN, reading

TELEMETRY = TP("fleet.telemetry", 0)


class FakeConsumer:
    """Just the bookkeeping Faust's `Consumer._new_offset` reads, as it was in a failing run."""

    def __init__(self, committed: int, gap: tuple[int, int] | None, acked: range) -> None:
        self._committed_offset: dict[TP, int | None] = {TELEMETRY: committed}
        self._gap: defaultdict[TP, IntervalTree] = defaultdict(IntervalTree)
        if gap is not None:
            self._gap[TELEMETRY].addi(gap[0], gap[1] + 1)  # as Consumer._add_gap stores it
        self._acked: defaultdict[TP, list[int]] = defaultdict(list)
        self._acked[TELEMETRY] = list(acked)
        self._acked_index: defaultdict[TP, set[int]] = defaultdict(set)
        self._acked_index[TELEMETRY] = set(acked)
        self._unacked_messages: list[Any] = []  # a WeakSet of messages in Faust

    def commits(self, n: int) -> list[int | None]:
        out = []
        for _ in range(n):
            offset = Consumer._new_offset(self, TELEMETRY)  # type: ignore[arg-type]
            if offset is not None:
                self._committed_offset[TELEMETRY] = offset
            out.append(offset)
        return out


def test_a_gap_over_offsets_already_read_makes_faust_commit_creep() -> None:
    # The restarted worker's log: seek to 300, records 300..388 already delivered and
    # acked, the next record 389 taken for a jump, so Faust noted a gap 301..389.
    consumer = FakeConsumer(300, (301, 389), range(300, 740))
    assert consumer.commits(4) == [302, 303, 304, 305]  # one offset per commit


def test_taking_read_offsets_out_of_the_gap_lets_the_commit_reach_the_end() -> None:
    consumer = FakeConsumer(300, (301, 389), range(300, 740))
    removed = drop_seen_from_gaps(consumer._gap, consumer._acked_index, {})
    assert removed == 389 - 301 + 1
    assert consumer.commits(2) == [740, None]


def test_a_true_gap_is_kept_and_records_in_flight_are_not_missing() -> None:
    # 300..309 acked; 310..314 processed and waiting for the flush, 315..319 handed to
    # the agent and still in its batch (both unacked, tracked by Faust); 320..329 never read.
    consumer = FakeConsumer(300, (301, 329), range(300, 310))
    consumer._unacked_messages = [
        *(SimpleNamespace(tp=TELEMETRY, offset=o, acked=False) for o in range(310, 320)),
        *(SimpleNamespace(tp=TELEMETRY, offset=o, acked=True) for o in (305, 306)),
    ]
    flight = in_flight(consumer)
    assert flight == {TELEMETRY: set(range(310, 320))}
    assert drop_seen_from_gaps(consumer._gap, consumer._acked_index, flight) == 19
    assert [(iv.begin, iv.end) for iv in sorted(consumer._gap[TELEMETRY])] == [(320, 330)]
    assert consumer.commits(1) == [310]  # the ones in flight wait for their ack


def test_holes_below_the_commit_are_told_apart_from_offsets_about_to_be_skipped() -> None:
    # A traced rebalance: the seek left the read offset at 197 under a commit of 31,860.
    consumer = FakeConsumer(31_860, (198, 31_859), range(31_860, 31_900))
    other = TP(TELEMETRY.topic, 1)
    consumer._gap[TELEMETRY].addi(31_950, 31_960)  # past the commit: never read here
    consumer._gap[other].addi(10, 20)  # no commit known for partition 1: counted ahead
    ahead, behind = holes_by_commit(consumer._gap, consumer._committed_offset)
    name = f"{TELEMETRY.topic}[{TELEMETRY.partition}]"
    assert behind == {name: [(198, 31_859)]}
    assert ahead == {name: [(31_950, 31_959)], f"{TELEMETRY.topic}[1]": [(10, 19)]}
    # One that reaches the commit is ahead: its last offset is not committed yet.
    straddling = FakeConsumer(31_860, (31_800, 31_860), range(31_861, 31_900))
    assert holes_by_commit(straddling._gap, straddling._committed_offset) == (
        {name: [(31_800, 31_860)]},
        {},
    )
    # Faust's next commit makes the hole below it no more than what was committed already.
    assert consumer.commits(1) == [31_900]


def flying(*offsets: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(tp=TELEMETRY, offset=o, acked=False) for o in offsets]


def test_a_commit_waiting_for_records_nobody_holds_is_found() -> None:
    # As in a CI run: committed 339, everything from 400 acked, 339..399 dropped.
    consumer = FakeConsumer(339, None, range(400, 740))
    assert lost_heads(consumer, TELEMETRY.topic) == {TELEMETRY: 339}
    assert lost_heads(consumer, "another.topic") == {}


def test_records_in_flight_or_one_missing_offset_are_not_lost() -> None:
    consumer = FakeConsumer(339, None, range(400, 740))
    consumer._unacked_messages = flying(*range(339, 400))  # still in the agent's batch
    assert lost_heads(consumer, TELEMETRY.topic) == {}
    assert lost_heads(FakeConsumer(339, None, range(340, 740)), TELEMETRY.topic) == {}
    gap = FakeConsumer(339, (339, 399), range(400, 740))  # a true hole Faust will fill
    assert lost_heads(gap, TELEMETRY.topic) == {}
    assert gap.commits(1) == [740]


class Tables:
    def __init__(self, vehicles: list[tuple[str, Any]]) -> None:
        self._vehicles = vehicles

    def vehicles(self) -> list[tuple[str, Any]]:
        return self._vehicles

    def watermarks(self) -> list[tuple[str, Any]]:
        return [("0", 123.0)]


def test_the_flush_writes_each_changed_car_once_after_its_alerts_then_acks() -> None:
    from hot_path.config import RuleSettings
    from hot_path.detector import observe

    cache = StateCache()
    cars = cache.cars(0, Tables([]))
    order: list[str] = []
    sent: list[tuple[str, int, str, bytes]] = []

    async def delivered() -> None:
        order.append("alert acknowledged")

    async def send(table: str, partition: int, key: str, value: bytes) -> None:
        order.append(f"changelog {table}")
        sent.append((table, partition, key, value))

    class Event:
        def __init__(self, offset: int) -> None:
            self.message = SimpleNamespace(tp=TELEMETRY, offset=offset)

        def ack(self) -> None:
            order.append(f"ack {self.message.offset}")

    async def run() -> None:
        state = VehicleState(VIN)
        for s in range(3):
            result = observe(state, reading(s), partition=0, now=NOW, cfg=RuleSettings())
            assert result is not None
            state = result[0]
            cars[VIN] = state
            cache.processed(Event(s))
        cache.published(asyncio.ensure_future(delivered()))
        assert cache.pending == 3
        assert await cache.flush(send) == 1
        assert await cache.flush(send) == 0  # nothing changed since

    asyncio.run(run())
    assert order == ["alert acknowledged", "changelog vehicles", "ack 0", "ack 1", "ack 2"]
    assert [(t, p, k) for t, p, k, _ in sent] == [("vehicles", 0, VIN)]
    assert decode_state(sent[0][3]) == cars[VIN]


def test_a_failed_flush_loses_nothing_and_the_next_flush_writes_and_acks_it() -> None:
    # A flush that fails half way (a send refused) must leave its records pending: if they
    # were dropped, nothing would ever acknowledge them and Faust would never commit past
    # them while the worker processed on.
    cache = StateCache()
    cars = cache.cars(0, Tables([]))
    acked: list[int] = []

    class Event:
        def __init__(self, offset: int) -> None:
            self.message = SimpleNamespace(tp=TELEMETRY, offset=offset)

        def ack(self) -> None:
            acked.append(self.message.offset)

    async def refused(table: str, partition: int, key: str, value: bytes) -> None:
        raise RuntimeError("broker refused the changelog record")

    sent: list[tuple[str, str]] = []

    async def accepted(table: str, partition: int, key: str, value: bytes) -> None:
        sent.append((table, key))

    async def run() -> None:
        cars[VIN] = VehicleState(VIN)
        cache.marks["0"] = 123.0
        for offset in range(3):
            cache.processed(Event(offset))
        with pytest.raises(RuntimeError, match="refused"):
            await cache.flush(refused)
        assert acked == []
        assert cache.pending == 3
        cache.processed(Event(3))
        assert await cache.flush(accepted) == 2

    asyncio.run(run())
    assert acked == [0, 1, 2, 3]
    assert sorted(sent) == [("vehicles", VIN), ("watermarks", "0")]
    assert cache.pending == 0
