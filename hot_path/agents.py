"""The agent: reads fleet.telemetry and publishes alerts and dead letters.

Each car's state lives in `hot_path.state.StateCache`, in memory, and reaches
the ``vehicles`` changelog when the cache is flushed (`flush_state`): every
``HOT_STATE_FLUSH_EVERY_S``, when ``HOT_STATE_FLUSH_RECORDS`` records are
waiting, and whenever a rebalance or shutdown waits for the records in
flight. A record is acknowledged to Faust by the flush that wrote its state,
so Faust never commits past the changelog.

The agent takes records in batches (``stream.take_events``: up to
``HOT_BATCH_RECORDS``, or what came within ``HOT_BATCH_WAIT_S``) and runs
the rules over a batch in one go: a quarter less CPU a record than one
record per turn of Faust's stream (docs/hot_path.md, "Throughput").
`take_events` acknowledges a batch as soon as the agent is done with it, so
the agent takes one more reference on each message (`Message.incref`) that
only the state flush gives back: Faust's acknowledgement is the last
reference's, and it comes after the changelog write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from faust import Stream, StreamT
from faust.sensors.base import Sensor
from faust.types import ConsumerT
from mode import CrashingSupervisor

from hot_path import tables, topics, views
from hot_path.app import app, settings
from hot_path.config import RuleSettings
from hot_path.events import encode_alert
from hot_path.processing import Outcome, process_record
from hot_path.state import (
    StateCache,
    drop_seen_from_gaps,
    holes_by_commit,
    in_flight,
    lost_heads,
)

log = logging.getLogger(__name__)
rules = RuleSettings()
cache = StateCache()


class _Restored:
    """The tables as Faust restored them from the changelogs (read on a new partition)."""

    def vehicles(self) -> Iterable[tuple[str, Any]]:
        return tables.vehicles.items()

    def watermarks(self) -> Iterable[tuple[str, Any]]:
        return tables.watermarks.items()


restored = _Restored()


async def publish(outcome: Outcome, msg: Any) -> None:
    """Send the outcome's alerts (keyed by VIN) and dead letter."""
    for alert in outcome.alerts:
        cache.published(await topics.alerts.send(key=alert.key, value=encode_alert(alert)))
    bad = outcome.dead_letter
    if bad is not None:
        log.warning(
            "dead-lettered %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset,
            dict(bad.headers)["problem"].decode(),
        )  # fmt: skip
        await topics.dead_letter.send(key=bad.key, value=bad.value, headers=bad.headers)


async def _send_changelog(table: str, partition: int, key: str, value: bytes) -> Awaitable[Any]:
    changelog = (tables.vehicles if table == "vehicles" else tables.watermarks).changelog_topic
    # Straight to the producer: Faust's send_soon buffer drains one record at a time and
    # overflowed at a flush of 2,000 cars. No callback either: the local store's persisted
    # offset is left to Faust's recovery, which replays these records whenever the
    # partition comes back. Keys are JSON text, as the tables' serializer writes them.
    return await app.producer.send(
        changelog.get_topic_name(), orjson.dumps(key), value, partition, None, None
    )


async def flush_state() -> int:
    return await cache.flush(_send_changelog)


class GapGuard(Sensor):
    """Before each commit, take the offsets this worker was handed out of Faust's gaps."""

    def on_commit_initiated(self, consumer: ConsumerT) -> Any:
        gaps = getattr(consumer, "_gap", None)  # Faust internals (faust-streaming 0.15.3)
        if gaps and any(gaps.values()):
            removed = drop_seen_from_gaps(
                gaps, getattr(consumer, "_acked_index", {}), in_flight(consumer)
            )
            ahead, behind = holes_by_commit(gaps, getattr(consumer, "_committed_offset", {}))
            if removed or ahead:
                log.warning("took %d offsets read here out of Faust's offset gaps; left as "
                            "never read: %s", removed, ahead or "none")  # fmt: skip
            if behind:
                log.info("offset gaps below the committed offsets (already covered): %s", behind)
        return None


# A crashing supervisor: an exception out of the agent (a failed publish, the inline flush
# timing out, a bug) stops the worker, and its records are replayed. Faust's default
# restarts the agent and carries on; with acks held for the flush, the record it failed
# on (and, for a flush, every record of the flush) is then never acknowledged, so
# Faust's commit skips it or stops at it for good while the worker keeps processing
# (docs/hot_path.md, "The worker that processed and never committed").
@app.agent(topics.telemetry, supervisor_strategy=CrashingSupervisor)
async def detect(stream: StreamT[Any]) -> None:
    """Run every rule on each record, a batch at a time; acks come from the state flush."""
    batches = cast(Stream, stream).take_events(settings.batch_records, settings.batch_wait_s)
    async for batch in batches:
        for event in batch:
            # Released by the flush that writes the record's state. All first: if the loop
            # fails halfway, take_events acks the whole batch on the way out, and the
            # records after the failing one must not count as processed.
            event.message.incref()
        now = datetime.now(UTC)
        marks = cache.marks
        tally = views.Tally()
        try:
            for event in batch:
                msg = event.message
                outcome = process_record(
                    msg.key,
                    event.value,
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                    vehicles=cache.cars(msg.partition, restored),
                    watermarks=marks,
                    now=now,
                    cfg=rules,
                )
                if outcome.alerts or outcome.dead_letter is not None:
                    await publish(outcome, msg)
                tally.add(outcome, partition=msg.partition, offset=msg.offset)
                cache.processed(event)
        finally:
            tally.count()
        if cache.pending >= settings.state_flush_records:
            await flush_state()


_flush_soon: asyncio.Event | None = None
REBALANCE_FLUSH_S = 0.2


def flush_soon() -> None:
    """Wake the flush loop now: a rebalance or a shutdown is waiting for the records' acks."""
    if _flush_soon is not None:
        _flush_soon.set()


@app.task
async def flush_state_loop() -> None:
    """Flush on a timer; a plain loop, so it also runs while Faust stops and waits for acks."""
    global _flush_soon
    _flush_soon = wake = asyncio.Event()
    while True:
        # While a rebalance holds the flow, Faust waits for every record in flight, and the
        # agent still works through the batch it holds: flush those often, not every 5 s.
        flowing = getattr(app.consumer, "flow_active", True)  # Faust's Consumer has it
        every = settings.state_flush_every_s if flowing else REBALANCE_FLUSH_S
        try:
            await asyncio.wait_for(wake.wait(), every)
        except TimeoutError:
            pass
        wake.clear()
        try:
            await flush_state()
        except Exception as exc:
            log.exception("state flush failed: the worker stops, its records will be replayed")
            await app.crash(exc)
            return


@app.on_partitions_assigned.connect  # type: ignore[arg-type]  # mode's stub is too narrow
def _assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
    assigned: set[Any] = args[0] if args else kwargs.get("assigned", set())
    cache.assigned({tp.partition for tp in assigned if tp.topic == settings.telemetry_topic})


_suspects: dict[Any, int] = {}


@app.timer(settings.stall_check_every_s)
async def reread_lost_records() -> None:
    """Read again the records a partition's commit waits for when nobody holds them.

    A record Faust dropped (a rebalance's stale generation, a commit that
    failed after taking its offsets off the acked list) is neither acked nor
    in flight, and Faust's commit then waits at it for good while the worker
    processes on. Seen twice in CI as a group stuck at one offset. A partition
    found so in two checks running is sought back to its committed offset; the
    records read again are duplicates to the state and are acknowledged anew.
    """
    global _suspects
    found = lost_heads(app.consumer, settings.telemetry_topic)
    for tp, offset in found.items():
        if _suspects.get(tp) == offset and tp in app.consumer.assignment():
            log.warning("%s[%d]: the commit waits at %d for records nobody holds; reading "
                        "them again", tp.topic, tp.partition, offset)  # fmt: skip
            await app.consumer.seek_wait({tp: offset})  # in the consumer's thread
    _suspects = found
