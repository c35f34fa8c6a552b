"""The worker's Faust consumer drops records fetched before a seek of their partition.

Faust's fetch loop asks the consumer thread for a batch of records and then
hands them to the agent one by one, waiting whenever the agent's queue is
full, so a batch can be in the loop for seconds. A seek in that time (recovery
seeking the committed offsets after a rebalance, ``seek_wait``) moves the
partition, but the loop goes on with the rest of the batch, records from the
old position. Faust takes each for the next record: one ahead of the sought
offset records the offsets between as a gap, which its next commit skips, and
drops the fresh records of that range when they come, as already read. The
records the seek asked for are never handed on, and the commit goes past them
(docs/hot_path.md, "Records fetched before a seek").

`SeekFence` keeps the books: which seeks came after the batch in the loop was
asked for, and which partitions a seek under way covers. `SeekFencedConsumer`
drops such records before Faust sees them and, before its next fetch, seeks
their partition again to the sought offset (or to the first record dropped
where no seek moved it), since a batch fetched after the seek but asked for
before it must be read again too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka
from faust.types import TP, Message

log = logging.getLogger(__name__)


@dataclass
class SeekFence:
    """Which records of the batch being delivered predate a seek of their partition.

    Seeks are numbered as they end. A batch is stale for a partition if that
    partition was sought after the batch was asked for, or while a seek of it
    is under way (the consumer thread may run the fetch before or after the
    seek). Each stale record's partition is read again from the seek's offset,
    or, where the seek left the partition where it was, from the first record
    dropped.
    """

    seeks: int = 0
    """Seeks ended so far."""
    asked: int = 0
    """``seeks`` when the batch being delivered was asked for."""
    under_way: dict[TP, int] = field(default_factory=dict)
    """Partitions a seek under way covers, and how many such seeks there are."""
    sought: dict[TP, tuple[int, int]] = field(default_factory=dict)
    """Each partition's last seek: its number and its offset."""
    reread: dict[TP, int] = field(default_factory=dict)
    """Partitions whose records are being dropped, and where to read them again from.

    Taken once no seek of the partition is under way, before the next fetch.
    """
    dropped: dict[TP, int] = field(default_factory=dict)
    """Records dropped per partition, for the log."""

    @property
    def quiet(self) -> bool:
        """No seek since the batch was asked for, none under way, none to redo: drop nothing."""
        return self.seeks == self.asked and not self.under_way and not self.reread

    def ask(self) -> None:
        """A batch is asked for: the seeks so far are older than its records."""
        self.asked = self.seeks

    def begin(self, tps: Iterable[TP]) -> None:
        """A seek of ``tps`` starts; where to is known when it ends."""
        for tp in tps:
            self.under_way[tp] = self.under_way.get(tp, 0) + 1

    def end(self, tps: Iterable[TP], offsets: Mapping[TP, int | None]) -> None:
        """The seek of ``tps`` begun earlier ended; ``offsets``: where it moved each (None: not)."""
        self.seeks += 1
        for tp in tps:
            left = self.under_way.pop(tp, 1) - 1
            if left:
                self.under_way[tp] = left
        for tp, offset in offsets.items():
            if offset is not None:
                self.sought[tp] = (self.seeks, offset)
                if tp in self.reread:
                    self.reread[tp] = offset

    def seek(self, tp: TP, offset: int) -> None:
        """``tp`` was sought to ``offset`` at once."""
        self.begin((tp,))
        self.end((tp,), {tp: offset})

    def stale(self, tp: TP, offset: int) -> bool:
        """Whether the record at ``tp``/``offset`` of this batch predates a seek of ``tp``.

        Once a partition's record is dropped, so is every later one until the
        partition is read again from where the dropping began.
        """
        if tp not in self.reread:
            if tp in self.under_way:
                self.reread[tp] = offset  # the seek's own offset replaces it when it ends
            else:
                last = self.sought.get(tp)
                if last is None or last[0] <= self.asked:
                    return False
                self.reread[tp] = last[1]
        self.dropped[tp] = self.dropped.get(tp, 0) + 1
        return True

    def rereads(self) -> dict[TP, int]:
        """Take the partitions to read again, but not those a seek under way still covers."""
        ready = {tp: offset for tp, offset in self.reread.items() if tp not in self.under_way}
        for tp in ready:
            del self.reread[tp]
        return ready

    def forget(self, tps: Iterable[TP]) -> None:
        """``tps`` were revoked: their seeks and rereads no longer matter."""
        for tp in tps:
            self.sought.pop(tp, None)
            self.reread.pop(tp, None)
            self.dropped.pop(tp, None)


class SeekFencedConsumer(aiokafka.Consumer):
    """Faust's aiokafka consumer, whose fetch loop drops the records fetched before a seek.

    Records already handed on are not recalled: those in the agent's queue,
    and the one whose delivery is in hand (it reaches the queue after the
    seek, and is read once more from the sought offset). Its seeks run one at
    a time (``_seeking``), so the consumer thread never runs two in an order
    of its own.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fence = SeekFence()
        self._seeking = asyncio.Lock()
        self._in_hand: tuple[TP, int | None] | None = None
        """The record the fetch loop holds: its partition, and the read offset then."""

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        fence = self.fence
        async for tp, message in super().getmany(timeout):
            if fence.quiet or not fence.stale(tp, message.offset):
                seeks = fence.seeks
                self._in_hand = (tp, self._read_offset[tp])
                try:
                    yield tp, message
                finally:
                    self._in_hand = None
                if fence.seeks != seeks:
                    self._undo_read_offset(tp, seeks)

    def _undo_read_offset(self, tp: TP, since: int) -> None:
        """Put back the read offset a seek set, if Faust moved it to the record in hand.

        The fetch loop records a record as read once its delivery is done. If the
        delivery waited (the agent's queue full) while ``tp`` was sought, that
        comes after the seek, and Faust would then drop the sought records up to
        that one as read already.
        """
        last = self.fence.sought.get(tp)
        if last is not None and last[0] > since:
            self._read_offset[tp] = last[1] if last[1] > 0 else None

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # The fetch loop measures the record in hand's gap from the read offset after a
        # turn of the event loop (every 100 records), and the thread's seek_wait sets read
        # offsets at any time: if a seek moved the read offset under the record, the gap
        # is the seek's doing, not the partition's.
        in_hand = self._in_hand
        if in_hand is not None and in_hand[0] == tp and in_hand[1] != offset_from - 1:
            log.info("%s[%d]: no gap %d-%d: the partition was sought under the record",
                     tp.topic, tp.partition, offset_from, offset_to)  # fmt: skip
            return
        await super()._add_gap(tp, offset_from, offset_to)

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> RecordMap:
        await self._read_again()
        self.fence.ask()
        return await super()._getmany(active_partitions, timeout)

    def _assigned(self) -> set[TP]:
        try:
            return set(self.assignment())
        except Exception:  # no consumer (stopping): nothing is assigned
            return set()

    async def _read_again(self) -> None:
        """Before a fetch: seek the partitions whose stale records were dropped.

        A seek that fails is logged and tried again before the next fetch, the
        partitions' records dropped until then; after a rebalance the
        partitions are left to its recovery, which seeks each anew.
        """
        fence = self.fence
        if not fence.reread:
            return
        async with self._seeking:
            generation = self.app.consumer_generation_id
            assigned = self._assigned()
            again = {tp: offset for tp, offset in fence.rereads().items() if tp in assigned}
            if not again:
                return
            try:
                # In the consumer's thread, as Faust's seek_wait: aiokafka is not
                # thread-safe (views._rewind_uncommitted). It sets the read offsets.
                await self._thread.seek_wait(again)
            except Exception as exc:
                if self.app.consumer_generation_id == generation:
                    assigned = self._assigned()
                    fence.reread.update({tp: o for tp, o in again.items() if tp in assigned})
                log.warning("could not seek back to read dropped records again (%r); trying "
                            "before the next fetch: %s", exc, again)  # fmt: skip
                return
        for tp, offset in again.items():
            log.info("%s[%d]: dropped %d records fetched before a seek; reading again from %d",
                     tp.topic, tp.partition, fence.dropped.pop(tp, 0), offset)  # fmt: skip

    async def _seek(self, partition: TP, offset: int) -> None:
        # Faust's seek, from the event loop at once: it cannot wait for ``_seeking``.
        await super()._seek(partition, offset)
        self.fence.seek(partition, offset)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        async with self._seeking:
            tps = self._assigned()
            self.fence.begin(tps)
            committed: Mapping[TP, int] = {}
            try:
                committed = await super().seek_to_committed()
            finally:
                # aiokafka seeks only the partitions with a committed offset above 0.
                moved = {tp: o if o and o > 0 else None for tp, o in committed.items()}
                self.fence.end(tps, moved)
            return committed

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        async with self._seeking:
            generation = self.app.consumer_generation_id
            self.fence.begin(partitions)
            try:
                await super().seek_wait(partitions)
            except BaseException:
                # The thread may have sought some of them: seek those still assigned
                # before the next fetch, so that none is left where the read offset
                # does not say.
                if self.app.consumer_generation_id == generation:
                    assigned = self._assigned()
                    self.fence.reread.update(
                        {tp: o for tp, o in partitions.items() if tp in assigned}
                    )
                raise
            finally:
                self.fence.end(partitions, dict(partitions))
                # As Faust's thread set them; a delivery in hand meanwhile may have moved
                # them.
                assigned = self._assigned()
                for tp, offset in partitions.items():
                    if tp in assigned:
                        self._read_offset[tp] = offset if offset > 0 else None

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self.fence.forget(revoked)
        await super().on_partitions_revoked(revoked)


class SeekFencedTransport(aiokafka.Transport):
    Consumer = SeekFencedConsumer


def use_seek_fence(app: Any) -> None:
    """Give ``app`` the seek-fenced consumer (before its consumer is first used)."""
    app.transport = SeekFencedTransport(app.conf.broker_consumer, app)
