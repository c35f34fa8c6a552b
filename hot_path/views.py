"""What the worker does besides detecting: the speed views, metrics, and when they are written.

The `SpeedStore` is built when the worker starts (tests without a store
leave ``HOT_SPEED_ENABLED`` off). A timer flushes it in a thread, a sensor
flushes it synchronously when Faust is about to commit offsets (so a committed
offset is always in the store), and a rebalance flushes and then reloads the
tracks and offsets the store holds, so cars that moved here from another
worker carry on from where that worker left them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

from faust.sensors.base import Sensor
from faust.types import TP, ConsumerT
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from fleet.store import connect
from hot_path import metrics
from hot_path.app import app, settings
from hot_path.processing import Outcome
from hot_path.speed_store import SpeedStore

log = logging.getLogger(__name__)
_store: SpeedStore | None = None
_positions: dict[int, tuple[int, float]] = {}  # partition -> (offset, event time) last seen


def store() -> SpeedStore | None:
    global _store
    if _store is None and settings.speed_enabled:
        _store = SpeedStore(
            _connect(),
            group_id=settings.app_id,
            topic=settings.telemetry_topic,
            bucket_s=settings.speed_bucket_s,
        )
        _store.load()
    return _store


def _connect(attempts: int = 5) -> Engine:
    """The serving store; retried, as workers starting together race to create the schema."""
    for attempt in range(attempts):
        try:
            return connect()
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


_PROCESSED = metrics.EVENTS.labels("processed")
_DUPLICATES = metrics.EVENTS.labels("duplicate")


def account(outcome: Outcome, *, partition: int, offset: int, now: datetime) -> None:
    """Metrics and speed views for one record's outcome."""
    letter = outcome.dead_letter
    if letter is not None:
        metrics.EVENTS.labels("dead_lettered").inc()
        metrics.DEAD_LETTERS.labels(dict(letter.headers)["reason"].decode()).inc()
        return
    (_DUPLICATES if outcome.duplicate else _PROCESSED).inc()
    for alert in outcome.alerts:
        metrics.ALERTS.labels(str(alert.kind), str(alert.status)).inc()
    if outcome.event is None:
        return
    _positions[partition] = (offset, outcome.event.event_time.timestamp())
    view = store()
    if view is None:
        return
    view.record(outcome.event, partition=partition, offset=offset, now=now)
    for alert in outcome.alerts:
        view.alert(alert)


def flush() -> None:
    view = _store
    if view is None:
        return
    try:
        metrics.SPEED_ROWS.inc(view.flush())
    except Exception:
        metrics.SPEED_FLUSH_ERRORS.inc()
        log.exception("speed-view flush failed; the rows are kept for the next one")


class CommitBarrier(Sensor):
    """Flush the speed views before offsets are committed: the store never lags a commit."""

    def on_commit_initiated(self, consumer: ConsumerT) -> Any:
        flush()
        return None


@app.timer(settings.speed_flush_every_s)
async def flush_speed_views() -> None:
    await asyncio.to_thread(flush)


@app.timer(1.0)
async def measure_lag() -> None:
    consumer = app.consumer
    now = time.time()
    for partition, (offset, event_t) in list(_positions.items()):
        tp = TP(settings.telemetry_topic, partition)
        try:
            high = consumer.highwater(tp)
        except Exception:  # not assigned here any more
            continue
        if high is not None:
            metrics.LAG_RECORDS.labels(str(partition)).set(max(high - offset - 1, 0))
        metrics.LAG_SECONDS.labels(str(partition)).set(now - event_t)


@app.timer(settings.speed_expire_every_s)
async def expire_speed_buckets() -> None:
    view = _store
    if view is not None:
        gone = await asyncio.to_thread(view.expire, settings.speed_expire_margin_s)
        if gone:
            log.info("expired %d speed buckets behind the batch watermark", gone)


@app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode's stub is too narrow
def _revoked(sender: Any, *args: Any, **kwargs: Any) -> None:
    # Hold the consumer's flow until recovery resumes it, on a worker's first assignment
    # too (Faust stops it only when partitions were assigned before), so that records
    # are not delivered while recovery seeks to the committed offsets. See GapGuard.
    app.consumer.stop_flow()
    flush()
    revoked: set[TP] = args[0] if args else set()
    for tp in revoked:
        _positions.pop(tp.partition, None)


@app.on_partitions_assigned.connect  # type: ignore[arg-type]
def _assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
    view = store()
    if view is not None:
        flush()
        view.load()


def install() -> None:
    """Register the commit barrier and start the metrics endpoint (the worker only)."""
    from hot_path.agents import GapGuard  # agents imports this module

    app.sensors.add(CommitBarrier())
    app.sensors.add(GapGuard())
    # aiokafka logs every request at DEBUG: building those records cost ~8 % of the CPU.
    for name in ("aiokafka", "faust", "mode"):
        logging.getLogger(name).setLevel(max(logging.getLogger().level, logging.INFO))
    metrics.serve(settings.metrics_host, settings.metrics_port)
