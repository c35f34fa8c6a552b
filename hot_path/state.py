"""Per-vehicle state held in memory and written behind to the changelogs.

The agent keeps each car's `VehicleState` in a plain dict per partition (the
`Cars` of that partition) and never touches the Faust table while it
processes a record: a table write per record (a changelog record, a RocksDB
put, a JSON encoding) cost more than all the rules together. `StateCache`
writes the states that changed, once per car, when it is flushed:

1. it takes, in one step, the records processed so far, the alerts they
   published and the states they left (states are immutable: the snapshot
   is a dict of references);
2. it waits until every one of those alerts is acknowledged by the broker
   (so a state that says "alert open" never reaches the changelog before
   its alert reached ``fleet.alerts``);
3. it hands the states to the producer as changelog records, one per car
   and partition touched, and the partitions' silence-check times likewise;
4. only then it acknowledges the records to Faust (the agent holds a
   reference on each message until then). Faust commits only acknowledged
   offsets, and flushes its producer before it commits, so a committed
   offset is always covered by the changelog.

If a step fails, the snapshot goes back to the cache (its records still
unacknowledged) and the caller stops the worker.

After a crash the records after the committed offset are replayed against
the state as of that offset or later: none is news twice, no alert opens
twice. Alerts sent but not yet covered by a flush are sent again, with the
same ``alert_id`` (see docs/hot_path.md, "Delivery").

Reads go the other way only after an assignment: a partition new to the
worker is loaded from the table (restored by Faust from the changelog) on its
first record. Writes bypass the local store; Faust's recovery replays them
from the changelog whenever the partition comes back, because it always
replays from the store's own persisted offset.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from hot_path.detector import VehicleState, from_dict, to_dict

log = logging.getLogger(__name__)
ALERT_ACK_TIMEOUT_S = 60.0


class Tables(Protocol):
    """Where restored state is read: each table's (key, value) items on this worker."""

    def vehicles(self) -> Iterable[tuple[str, Any]]: ...
    def watermarks(self) -> Iterable[tuple[str, Any]]: ...


Send = Callable[[str, int, str, bytes], Awaitable[Any]]
"""``send(table, partition, key, value)``: hand one changelog record to the producer."""


class Cars(dict[str, VehicleState]):
    """One partition's cars; remembers which were written since the last flush."""

    __slots__ = ("dirty",)

    def __init__(self) -> None:
        super().__init__()
        self.dirty: set[str] = set()

    def __setitem__(self, vin: str, state: VehicleState) -> None:
        super().__setitem__(vin, state)
        self.dirty.add(vin)


class Marks(dict[str, float]):
    """Per partition (as text), the event time its cars were last judged for silence."""

    __slots__ = ("dirty",)

    def __init__(self) -> None:
        super().__init__()
        self.dirty: set[str] = set()

    def __setitem__(self, part: str, t: float) -> None:
        super().__setitem__(part, t)
        self.dirty.add(part)


def encode_state(state: VehicleState) -> bytes:
    """The changelog value of a car (JSON, as Faust's table serializer reads it back)."""
    return orjson.dumps(to_dict(state))


def decode_state(raw: bytes | dict[str, Any]) -> VehicleState:
    return from_dict(orjson.loads(raw) if isinstance(raw, bytes) else raw)


@dataclass
class Snapshot:
    acks: list[Any] = field(default_factory=list)
    alerts: list[Awaitable[Any]] = field(default_factory=list)
    cars: dict[int, dict[str, VehicleState]] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)


class StateCache:
    def __init__(self) -> None:
        self.parts: dict[int, Cars] = {}
        self.marks = Marks()
        self.to_load: set[int] = set()
        self._acks: list[Any] = []
        self._alerts: list[Awaitable[Any]] = []
        self._lock = asyncio.Lock()

    # -- the agent's side -------------------------------------------------------------
    def cars(self, partition: int, tables: Tables) -> Cars:
        """The partition's cars; those of partitions new here are read from the tables."""
        cars = self.parts.get(partition)
        if cars is None:
            self.to_load.add(partition)
            self._load(tables)
            cars = self.parts[partition]
        return cars

    def _load(self, tables: Tables) -> None:
        wanted, n = self.to_load, 0
        for part in wanted:
            self.parts[part] = Cars()
        for vin, data in tables.vehicles():
            if data is not None:
                state = decode_state(data)
                if state.partition in wanted:
                    dict.__setitem__(self.parts[state.partition], vin, state)  # not dirty
                    n += 1
        for key, t in tables.watermarks():
            if t is not None and int(key) in wanted:
                dict.__setitem__(self.marks, key, float(t))
        log.info("restored %d cars of partitions %s from the changelogs", n, sorted(wanted))
        self.to_load = set()

    def published(self, delivery: Awaitable[Any]) -> None:
        """An alert handed to the producer: the next flush waits for its acknowledgement."""
        self._alerts.append(delivery)

    def processed(self, event: Any) -> None:
        """A record done; it is acknowledged to Faust once its state is in the changelog."""
        self._acks.append(event)

    @property
    def pending(self) -> int:
        return len(self._acks)

    # -- rebalances -------------------------------------------------------------------
    def assigned(self, partitions: set[int]) -> None:
        """Keep the partitions still held; read the new ones on their first record."""
        for part in list(self.parts):
            if part not in partitions:
                self._drop(part)
        for key in list(self.marks):
            if int(key) not in partitions:
                dict.__delitem__(self.marks, key)
                self.marks.dirty.discard(key)
        self.to_load = partitions - set(self.parts)

    def _drop(self, part: int) -> None:
        cars = self.parts.pop(part)
        if cars.dirty:
            # Only if Faust gave up waiting for the acks: their records are replayed.
            log.warning("partition %d left with %d unwritten cars", part, len(cars.dirty))

    # -- the flush --------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        snap = Snapshot(self._acks, self._alerts)
        self._acks, self._alerts = [], []
        for part, cars in self.parts.items():
            if cars.dirty:
                snap.cars[part] = {vin: cars[vin] for vin in cars.dirty}
                cars.dirty = set()
        if self.marks.dirty:
            snap.marks = {part: self.marks[part] for part in self.marks.dirty}
            self.marks.dirty = set()
        return snap

    async def flush(self, send: Send) -> int:
        """Write what changed behind the acknowledged alerts, then ack; changelog records sent."""
        async with self._lock:
            snap = self.snapshot()
            try:
                n = await self._write(snap, send)
            except BaseException:
                # Nothing of the snapshot is lost: its records stay pending (unacked,
                # so Faust never commits past them) and the next flush writes them.
                self._restore(snap)
                raise
            # Faust flushes the producer (these writes included) before it commits offsets.
            for event in snap.acks:
                event.ack()
            return n

    async def _write(self, snap: Snapshot, send: Send) -> int:
        if snap.alerts:
            # Bounded: an alert the broker never acknowledges stops the worker (its
            # records stay unacked and are replayed) instead of stalling it silently.
            await asyncio.wait_for(asyncio.gather(*snap.alerts), ALERT_ACK_TIMEOUT_S)
        n = 0
        for part, states in snap.cars.items():
            for vin, state in states.items():
                await send("vehicles", part, vin, encode_state(state))
                n += 1
        for key, t in snap.marks.items():
            await send("watermarks", int(key), key, orjson.dumps(t))
            n += 1
        return n

    def _restore(self, snap: Snapshot) -> None:
        """Give a failed flush's records, alerts, cars and marks back to the next flush."""
        self._acks[:0] = snap.acks
        self._alerts[:0] = snap.alerts
        for part, states in snap.cars.items():
            cars = self.parts.get(part)
            if cars is not None:  # a partition revoked meanwhile is replayed elsewhere
                cars.dirty.update(vin for vin in states if vin in cars)
        self.marks.dirty.update(key for key in snap.marks if key in self.marks)


def drop_seen_from_gaps(
    gaps: Mapping[Any, Any], acked: Mapping[Any, set[int]], unacked: Mapping[Any, set[int]]
) -> int:
    """Remove from Faust's offset gaps every offset the worker did read; how many.

    Faust (0.15.3) records a gap when a record's offset jumps past the one read
    before it, and at commit time counts the gap's offsets as acked by adding
    them to the acked list unchecked. When recovery's seek rewinds the read
    offset under records already delivered, the "gap" is offsets that were
    read and acked: they go into the list twice, each duplicate ends the first
    run of consecutive offsets, and the committed offset creeps forward one
    offset per commit (docs/hot_path.md); and a record handed to the agent but
    not yet acknowledged would be committed past before its state is written.
    Offsets already acked, or in flight (in the agent's batch, or processed and
    waiting for the state flush), are not missing: taking them out of the gap
    leaves Faust only the true holes (``gaps`` maps a topic partition to an
    ``intervaltree.IntervalTree``).
    """
    removed = 0
    for tp, tree in gaps.items():
        if not tree:
            continue
        for offsets in (acked.get(tp, ()), unacked.get(tp, ())):
            for offset in offsets:
                if tree.overlaps_point(offset):
                    tree.chop(offset, offset + 1)
                    removed += 1
    return removed


Holes = dict[str, list[tuple[int, int]]]
"""``topic[partition]`` -> (first, last) offset ranges, for a log line."""


def holes_by_commit(
    gaps: Mapping[Any, Any], committed: Mapping[Any, int | None]
) -> tuple[Holes, Holes]:
    """Faust's gaps split into those at or past the committed offset, and those below it.

    A hole at or past the commit is offsets Faust is about to commit past that
    this worker never read: records lost to it unless another member read
    them. One below the commit is already covered by it (recovery's seek left
    the read offset behind the commit, see docs/hot_path.md, "Tenth round"):
    Faust drops it at its next commit and nothing changes. A partition with
    no committed offset yet counts every hole as ahead.
    """
    ahead: Holes = {}
    behind: Holes = {}
    for tp, tree in gaps.items():
        name = f"{tp.topic}[{tp.partition}]"
        floor = committed.get(tp)
        for interval in sorted(tree):
            span = (interval.begin, interval.end - 1)
            side = behind if floor is not None and span[1] < floor else ahead
            side.setdefault(name, []).append(span)
    return ahead, behind


def in_flight(consumer: Any) -> dict[Any, set[int]]:
    """Offsets handed to the agent and not yet acknowledged, per topic partition.

    Those are the records in the agent's batch, processed and waiting for the
    state flush, or waiting in `take_events`' buffer: Faust tracks every one
    from the moment its stream hands it on until its last reference is gone.
    """
    out: dict[Any, set[int]] = {}
    for msg in list(getattr(consumer, "_unacked_messages", ())):
        if not msg.acked:
            out.setdefault(msg.tp, set()).add(msg.offset)
    return out


def lost_heads(consumer: Any, topic: str) -> dict[Any, int]:
    """Partitions of ``topic`` whose commit waits for records nobody holds: their offset.

    Faust commits up to the first offset missing from its acked list (it steps
    over one missing offset, not two). Records are handed on in offset order,
    so a missing offset below the lowest acked one was either dropped or is
    still in flight (`in_flight`); one that is not in flight, and not in a gap
    Faust will fill, is lost to this worker until something reads it again.
    """
    flight = in_flight(consumer)
    gaps = getattr(consumer, "_gap", {})
    out: dict[Any, int] = {}
    for tp, acked in list(getattr(consumer, "_acked", {}).items()):
        committed = consumer._committed_offset.get(tp)
        if tp.topic != topic or not acked or committed is None:
            continue
        head = min(acked)
        if head - committed <= 1:
            continue
        if any(committed <= o < head for o in flight.get(tp, ())):
            continue
        tree = gaps.get(tp)
        if tree and tree.overlaps(committed, head):
            continue
        out[tp] = committed
    return out
