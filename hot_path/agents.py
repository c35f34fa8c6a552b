"""The agent: reads fleet.telemetry and publishes alerts and dead letters.

Each car's state lives in `hot_path.state.StateCache`, in memory, and reaches
the ``vehicles`` changelog when the cache is flushed (`flush_state`): every
``HOT_STATE_FLUSH_EVERY_S``, when ``HOT_STATE_FLUSH_RECORDS`` records are
waiting, and whenever a rebalance or shutdown waits for the records in
flight. A record is acknowledged to Faust by the flush that wrote its state,
so Faust never commits past the changelog.

The agent reads with ``noack()``, one record per turn of Faust's stream.
Batches through ``stream.take_events`` cost a quarter less CPU a record but
broke recovery twice in CI (docs/hot_path.md, "Third round"), so they are
not used.
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
from hot_path.state import StateCache, drop_seen_from_gaps

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


async def publish(outcome: Outcome) -> None:
    """Send the outcome's alerts (keyed by VIN) and dead letter."""
    for alert in outcome.alerts:
        cache.published(await topics.alerts.send(key=alert.key, value=encode_alert(alert)))
    bad = outcome.dead_letter
    if bad is not None:
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
    """Before each commit, take the offsets this worker read out of Faust's gaps."""

    def on_commit_initiated(self, consumer: ConsumerT) -> Any:
        gaps = getattr(consumer, "_gap", None)  # Faust internals (faust-streaming 0.15.3)
        if gaps and any(gaps.values()):
            removed = drop_seen_from_gaps(
                gaps, getattr(consumer, "_acked_index", {}), cache.pending_offsets()
            )
            if removed:
                log.warning("took %d offsets read here out of Faust's offset gaps", removed)
        return None


# A crashing supervisor: an exception out of the agent (a failed publish, the inline flush
# timing out, a bug) stops the worker, and its records are replayed. Faust's default
# restarts the agent and carries on; with ``noack()`` the record it failed on (and, for
# a flush, every record of the flush) is then never acknowledged, so Faust's commit
# skips it or stops at it for good while the worker keeps processing
# (docs/hot_path.md, "The worker that processed and never committed").
@app.agent(topics.telemetry, supervisor_strategy=CrashingSupervisor)
async def detect(stream: StreamT[Any]) -> None:
    """Run every rule on each record; acks come from the state flush."""
    async for event in cast(Stream, stream).noack().events():
        msg = event.message
        now = datetime.now(UTC)
        outcome = process_record(
            msg.key,
            event.value,
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            vehicles=cache.cars(msg.partition, restored),
            watermarks=cache.marks,
            now=now,
            cfg=rules,
        )
        if outcome.dead_letter is not None:
            headers = dict(outcome.dead_letter.headers)
            log.warning(
                "dead-lettered %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset,
                headers["problem"].decode(),
            )  # fmt: skip
        await publish(outcome)
        views.account(outcome, partition=msg.partition, offset=msg.offset, now=now)
        cache.processed(event)
        if cache.pending >= settings.state_flush_records:
            await flush_state()


_flush_soon: asyncio.Event | None = None


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
        try:
            await asyncio.wait_for(wake.wait(), settings.state_flush_every_s)
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
