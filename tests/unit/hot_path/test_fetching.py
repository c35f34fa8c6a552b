"""The seek fence (`hot_path.fetching.SeekFence`): which records of a batch predate a seek."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import faust
from faust.types import TP

from hot_path.delivery import InlineDeliveryConsumer
from hot_path.fetching import SeekFence, SeekFencedConsumer, use_seek_fence

TP0, TP1 = TP("fleet.telemetry", 0), TP("fleet.telemetry", 1)


def test_with_no_seek_every_record_goes_through() -> None:
    fence = SeekFence()
    fence.ask()
    assert fence.quiet
    assert not fence.stale(TP0, 10)
    assert fence.rereads() == {}


def test_records_asked_for_before_a_seek_are_dropped_and_read_again_from_it() -> None:
    fence = SeekFence()
    fence.ask()
    fence.seek(TP0, 500)  # while the batch (say offsets 1,500-1,999) is being handed on
    assert not fence.quiet
    assert fence.stale(TP0, 1551) and fence.stale(TP0, 1552)
    assert not fence.stale(TP1, 80)  # the other partition was not sought
    assert fence.rereads() == {TP0: 500}
    assert fence.dropped == {TP0: 2}
    assert fence.rereads() == {}  # taken once


def test_a_batch_asked_for_after_the_seek_is_fresh() -> None:
    fence = SeekFence()
    fence.ask()
    fence.seek(TP0, 500)
    fence.ask()
    assert fence.quiet
    assert not fence.stale(TP0, 500)


def test_during_a_seek_every_record_of_its_partitions_is_dropped() -> None:
    # The consumer thread may run the fetch before or after the seek: either way out.
    fence = SeekFence()
    fence.begin({TP0, TP1})
    fence.ask()  # asked for while the seek is under way
    assert fence.stale(TP0, 700) and fence.stale(TP1, 40)
    assert fence.rereads() == {}  # not before the seek has ended
    fence.end({TP0, TP1}, {TP0: 500, TP1: None})  # TP1 had nothing committed: left in place
    # ... and this batch's later records too, though the seek has ended.
    assert fence.stale(TP0, 701)
    # TP1 had nothing committed, so nothing moved it, but its first records are gone:
    # the rest go too, until it is read again from the first one dropped.
    assert fence.stale(TP1, 41)
    assert fence.rereads() == {TP0: 500, TP1: 40}
    fence.ask()
    assert fence.quiet and not fence.stale(TP1, 40)


def test_overlapping_seeks_hold_the_partition_until_the_last_ends() -> None:
    fence = SeekFence()
    fence.begin({TP0})
    fence.begin({TP0})
    fence.end({TP0}, {TP0: 300})
    fence.ask()
    assert fence.stale(TP0, 300)
    assert fence.rereads() == {}
    fence.end({TP0}, {TP0: 200})
    assert fence.rereads() == {TP0: 200}


def test_a_revoked_partition_is_not_read_again() -> None:
    fence = SeekFence()
    fence.ask()
    fence.seek(TP0, 500)
    assert fence.stale(TP0, 900)
    fence.forget({TP0})
    assert fence.rereads() == {}
    assert fence.dropped == {}


def _fenced_consumer() -> SeekFencedConsumer:
    """A fenced consumer, made in the running loop (Faust's services keep the loop they see)."""
    app = faust.App("test-seek-fence", broker="kafka://127.0.0.1:1", store="memory://",
                    web_enabled=False)  # fmt: skip
    use_seek_fence(app)
    consumer = app.consumer
    assert isinstance(consumer, SeekFencedConsumer)
    return consumer


def _gaps(consumer: SeekFencedConsumer, tp: TP) -> list[tuple[int, int]]:
    return sorted((iv.begin, iv.end) for iv in consumer._gap[tp])


def test_no_gap_is_recorded_when_a_seek_moved_the_read_offset_under_the_record() -> None:
    """Faust measures the gap after a turn of the loop: a seek then makes a bogus one."""

    async def run() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        consumer = _fenced_consumer()
        consumer._in_hand = (TP0, 1599)  # the fetch loop holds 1,600, read up to 1,599
        consumer.fence.seek(TP0, 500)  # ... and the seek sets the read offset to 500
        await consumer._add_gap(TP0, 501, 1600)
        # A true gap (a compacted range, say) while a seek is under way but has not
        # moved the read offset yet: recorded, as Faust would.
        consumer._in_hand = (TP1, 10)
        consumer.fence.begin({TP1})
        await consumer._add_gap(TP1, 11, 19)
        return _gaps(consumer, TP0), _gaps(consumer, TP1)

    bogus, true = asyncio.run(run())
    assert bogus == []
    assert true == [(11, 20)]


class _Thread:
    """The consumer thread's seeks, recorded; each waits until ``go`` is set."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.seeks: list[dict[TP, int]] = []
        self.fail = fail
        self.go = asyncio.Event()
        self.go.set()

    def assignment(self) -> set[TP]:
        return {TP0, TP1}

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        self.seeks.append(dict(partitions))
        await self.go.wait()
        if self.fail is not None:
            raise self.fail


def _with_thread(thread: _Thread) -> SeekFencedConsumer:
    consumer = _fenced_consumer()
    consumer._thread = thread  # type: ignore[assignment]
    consumer.fence.ask()
    consumer.fence.seek(TP0, 300)
    assert consumer.fence.stale(TP0, 900)  # the batch in hand predates the seek
    return consumer


def test_the_consumer_reads_dropped_records_again_before_its_next_fetch() -> None:
    async def run() -> list[dict[TP, int]]:
        thread = _Thread()
        await _with_thread(thread)._read_again()
        return thread.seeks

    assert asyncio.run(run()) == [{TP0: 300}]


def test_a_seek_waits_for_the_reread_so_the_newer_offset_wins() -> None:
    """Two seeks at once in the consumer thread would end in an order of its own."""

    async def run() -> list[dict[TP, int]]:
        thread = _Thread()
        consumer = _with_thread(thread)
        thread.go.clear()
        reread = asyncio.ensure_future(consumer._read_again())
        await asyncio.sleep(0)  # the reread is in the thread
        recovery = asyncio.ensure_future(consumer.seek_wait({TP0: 500}))
        await asyncio.sleep(0.01)
        assert thread.seeks == [{TP0: 300}]  # recovery's seek waits its turn
        thread.go.set()
        await asyncio.gather(reread, recovery)
        return thread.seeks

    assert asyncio.run(run()) == [{TP0: 300}, {TP0: 500}]


def test_a_reread_that_fails_keeps_the_partition_dropped_and_is_tried_again() -> None:
    async def run() -> SeekFence:
        consumer = _with_thread(_Thread(fail=TimeoutError("no position")))
        await consumer._read_again()  # logged, not raised: the fetch loop goes on
        return consumer.fence

    fence = asyncio.run(run())
    fence.ask()
    assert fence.stale(TP0, 901)  # the next batch's records of TP0 are dropped too
    assert fence.rereads() == {TP0: 300}


def test_a_reread_that_fails_across_a_rebalance_is_left_to_its_recovery() -> None:
    async def run() -> SeekFence:
        thread = _Thread(fail=TimeoutError("no position"))
        consumer = _with_thread(thread)
        thread.go.clear()
        reread = asyncio.ensure_future(consumer._read_again())
        await asyncio.sleep(0)
        consumer.app.consumer_generation_id += 1  # a rebalance meanwhile
        thread.go.set()
        await reread
        return consumer.fence

    assert asyncio.run(run()).reread == {}


def test_a_seek_wait_that_fails_has_its_partitions_sought_again() -> None:
    async def run() -> SeekFence:
        consumer = _fenced_consumer()
        consumer._thread = _Thread(fail=TimeoutError("no position"))  # type: ignore[assignment]
        try:
            await consumer.seek_wait({TP0: 700, TP1: 20})
        except TimeoutError:
            pass
        else:
            raise AssertionError("the failure was not raised")
        return consumer.fence

    assert asyncio.run(run()).rereads() == {TP0: 700, TP1: 20}


def test_the_worker_s_consumer_is_fenced() -> None:
    assert issubclass(InlineDeliveryConsumer, SeekFencedConsumer)
