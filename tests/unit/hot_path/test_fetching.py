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


def test_a_seek_beside_a_reread_has_it_seek_again_to_the_newer_offset() -> None:
    fence = SeekFence()
    fence.reread = {TP0: 300, TP1: 40}
    before = fence.seeks
    sought = fence.rereads()
    fence.seek(TP0, 500)  # recovery's seek, in the thread beside the reread's
    fence.overlapped(sought, before)
    assert fence.rereads() == {TP0: 500}  # TP1 was left alone by the other seek


def _fenced_consumer() -> SeekFencedConsumer:
    """A fenced consumer, made in the running loop (Faust's services keep the loop they see)."""
    app = faust.App("test-seek-fence", broker="kafka://127.0.0.1:1", store="memory://",
                    web_enabled=False)  # fmt: skip
    use_seek_fence(app)
    consumer = app.consumer
    assert isinstance(consumer, SeekFencedConsumer)
    return consumer


def test_no_gap_is_recorded_for_a_record_whose_partition_was_sought_under_it() -> None:
    """Faust measures the gap after a turn of the loop: a seek then makes a bogus one."""

    async def run() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        consumer = _fenced_consumer()
        consumer._in_hand = (TP0, consumer.fence.seeks)  # the fetch loop holds 1,600
        consumer.fence.seek(TP0, 500)
        await consumer._add_gap(TP0, 501, 1599)
        bogus = sorted((iv.begin, iv.end) for iv in consumer._gap[TP0])
        consumer._in_hand = (TP1, consumer.fence.seeks)  # a true gap, no seek
        await consumer._add_gap(TP1, 11, 19)
        return bogus, sorted((iv.begin, iv.end) for iv in consumer._gap[TP1])

    bogus, true = asyncio.run(run())
    assert bogus == []
    assert true == [(11, 20)]


class _Thread:
    """The consumer thread's seeks, recorded; ``beside`` runs within the first, as a racing seek."""

    def __init__(self, consumer: SeekFencedConsumer, beside: Mapping[TP, int]) -> None:
        self.consumer, self.beside, self.seeks = consumer, dict(beside), []

    def assignment(self) -> set[TP]:
        return {TP0, TP1}

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        self.seeks.append(dict(partitions))
        if self.beside:
            beside, self.beside = self.beside, {}
            self.consumer.fence.seek(*next(iter(beside.items())))


def test_the_consumer_reads_dropped_records_again_before_its_next_fetch() -> None:
    async def run() -> list[dict[TP, int]]:
        consumer = _fenced_consumer()
        thread = _Thread(consumer, beside={TP0: 500})
        consumer._thread = thread  # type: ignore[assignment]
        consumer.fence.ask()
        consumer.fence.seek(TP0, 300)
        assert consumer.fence.stale(TP0, 900)
        await consumer._read_again()
        return thread.seeks

    # Read again from 300; a seek to 500 ran beside it, so once more, to 500.
    assert asyncio.run(run()) == [{TP0: 300}, {TP0: 500}]


def test_a_reread_that_fails_keeps_the_partition_dropped_and_is_tried_again() -> None:
    class Failing(_Thread):
        async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
            self.seeks.append(dict(partitions))
            raise TimeoutError("no position")

    async def run() -> SeekFence:
        consumer = _fenced_consumer()
        consumer._thread = Failing(consumer, beside={})  # type: ignore[assignment]
        consumer.fence.ask()
        consumer.fence.seek(TP0, 300)
        assert consumer.fence.stale(TP0, 900)
        await consumer._read_again()  # logged, not raised: the fetch loop goes on
        return consumer.fence

    fence = asyncio.run(run())
    fence.ask()
    assert fence.stale(TP0, 901)  # the next batch's records of TP0 are dropped too
    assert fence.rereads() == {TP0: 300}


def test_the_worker_s_consumer_is_fenced() -> None:
    assert issubclass(InlineDeliveryConsumer, SeekFencedConsumer)
