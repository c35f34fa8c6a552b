"""What the worker does besides detecting: metrics, and the speed-view writer it starts.

The speed-layer views are written by `hot_path.view_writer` in a process of
its own, which the worker starts when it starts (``HOT_SPEED_ENABLED``, on by
default) and stops when it stops; if the writer dies, the worker stops too,
so a service manager restarts both. The writer's running totals come back
over a pipe and are served with the worker's own Prometheus metrics.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from faust.types import TP

from hot_path import metrics
from hot_path.app import app, settings
from hot_path.processing import Outcome
from hot_path.view_writer import WriterStats, child_main

log = logging.getLogger(__name__)
_positions: dict[int, tuple[int, float]] = {}  # partition -> (offset, event time) last seen
_PROCESSED = metrics.EVENTS.labels("processed")
_DUPLICATES = metrics.EVENTS.labels("duplicate")


class Tally:
    """One batch's records by outcome, added to the counters once per batch.

    A Prometheus counter takes a lock on each increment, a third of a
    microsecond; per record that was as much as two of the rules.
    """

    __slots__ = ("processed", "duplicates")

    def __init__(self) -> None:
        self.processed = self.duplicates = 0

    def add(self, outcome: Outcome, *, partition: int, offset: int) -> None:
        letter = outcome.dead_letter
        if letter is not None:
            metrics.EVENTS.labels("dead_lettered").inc()
            metrics.DEAD_LETTERS.labels(dict(letter.headers)["reason"].decode()).inc()
            return
        if outcome.duplicate:
            self.duplicates += 1
        else:
            self.processed += 1
        for alert in outcome.alerts:
            metrics.ALERTS.labels(str(alert.kind), str(alert.status)).inc()
        if outcome.event is not None:
            _positions[partition] = (offset, outcome.event.event_time.timestamp())

    def count(self) -> None:
        """Add the batch's counts to the counters."""
        if self.processed:
            _PROCESSED.inc(self.processed)
        if self.duplicates:
            _DUPLICATES.inc(self.duplicates)


class Writer:
    """The speed-view writer process, as the worker sees it."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # a clean interpreter: no Faust, no loop
        self._pipe, child_end = ctx.Pipe(duplex=False)
        self.proc: BaseProcess = ctx.Process(
            target=child_main, args=(child_end,), name="hot-path-views"
        )
        self.proc.start()
        child_end.close()
        self._last = WriterStats()
        log.info("started the speed-view writer (pid %s, group %s)", self.proc.pid,
                 settings.views_group())  # fmt: skip

    def collect(self) -> None:
        """Move the writer's latest totals into the worker's metrics."""
        latest = None
        pipe: Connection = self._pipe
        try:
            while pipe.poll():
                latest = pipe.recv()
        except (EOFError, OSError):
            pass
        if latest is None:
            return
        old, self._last = self._last, latest
        metrics.SPEED_RECORDS.inc(latest.records - old.records)
        metrics.SPEED_ROWS.inc(latest.rows - old.rows)
        metrics.SPEED_FLUSH_ERRORS.inc(latest.flush_errors - old.flush_errors)
        for partition, lag in latest.lag.items():
            metrics.SPEED_LAG_RECORDS.labels(str(partition)).set(lag)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.is_alive():
            self.proc.terminate()  # SIGTERM: the writer flushes and leaves
            self.proc.join(timeout)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join()


_writer: Writer | None = None


@app.timer(1.0)
async def watch_writer() -> None:
    """The writer's metrics; the worker stops if the writer died."""
    writer = _writer
    if writer is None:
        return
    writer.collect()
    if not writer.proc.is_alive():
        code = writer.proc.exitcode
        log.error("the speed-view writer exited (code %s): stopping the worker; see its log "
                  "lines above, restart the worker when the cause is fixed", code)  # fmt: skip
        await app.crash(RuntimeError(f"speed-view writer exited with code {code}"))


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


@app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode's stub is too narrow
def _revoked(sender: Any, *args: Any, **kwargs: Any) -> None:
    # Hold the consumer's flow until recovery resumes it, on a worker's first assignment
    # too (Faust stops it only when partitions were assigned before), so that records
    # are not delivered while recovery seeks to the committed offsets. See GapGuard.
    app.consumer.stop_flow()
    from hot_path.agents import flush_soon  # agents imports this module

    flush_soon()  # Faust now waits for the records in flight: their acks come with a flush
    revoked: set[TP] = args[0] if args else set()
    for tp in revoked:
        _positions.pop(tp.partition, None)


@app.on_partitions_assigned.connect  # type: ignore[arg-type]  # mode's stub is too narrow
def _shorten_fetch_wait(sender: Any, *args: Any, **kwargs: Any) -> None:
    """Let the broker hold the worker's fetches ``HOT_FETCH_MAX_WAIT_MS``, not Faust's 1.5 s.

    Faust creates aiokafka's consumer with a fixed ``fetch_max_wait_ms`` of
    1,500. A fetch names only the partitions not paused; Faust pauses a
    partition while the agent's queue is full and resumes it later, and the
    resumed partition's records then wait for the fetch in flight, which the
    broker holds up to that long when the partitions it names are quiet. In
    the paced benchmark the worker's consumer returned nothing for a second
    at a time while 5,000 records a second came in (alert latency p99 2.4-
    4.3 s; 0.3-0.6 s with 100 ms). A shorter wait costs a few more empty fetches
    a second on an idle topic. (With ``HOT_INLINE_DELIVERY``, the default, the
    telemetry partitions are no longer paused, `hot_path.delivery`; the
    changelogs a standby reads still are.)
    """
    thread = getattr(app.consumer, "_thread", None)  # Faust internals (faust-streaming 0.15.3)
    fetcher = getattr(getattr(thread, "_consumer", None), "_fetcher", None)
    if fetcher is not None and getattr(fetcher, "_fetch_max_wait_ms", None) is not None:
        fetcher._fetch_max_wait_ms = settings.fetch_max_wait_ms
    else:
        log.warning("could not set the consumer's fetch wait (Faust's internals changed?): "
                    "alerts may wait up to 1.5 s for a fetch")  # fmt: skip


@app.on_rebalance_complete.connect  # type: ignore[arg-type]  # mode's stub is too narrow
async def _rewind_uncommitted(sender: Any, *args: Any, **kwargs: Any) -> None:
    """Read a partition without a committed offset from its beginning after every rebalance.

    Faust drops records fetched under the previous group generation and relies
    on the seek to the committed offsets that follows to read them again; but
    aiokafka seeks only to a committed offset above 0, so on a partition the
    group has not committed yet, those records were skipped for good, and
    Faust then committed past them (its check for an unacknowledged head
    skips partitions without a commit). Seen in the two-worker test: a car's
    first 100 s were never processed. Seeking every partition to its
    beginning first leaves Faust's seek to override it wherever a commit
    exists; elsewhere the records are read again (the state skips the ones it
    has seen).
    """
    consumer = app.consumer
    mine = [tp for tp in consumer.assignment() if tp.topic == settings.telemetry_topic]
    if mine:
        # In the consumer's thread (`seek_wait`): aiokafka is not thread-safe, and a seek
        # from the event loop raced its fetcher (a KeyError in `fetched_records`, in CI).
        await consumer.seek_wait(dict(await consumer.earliest_offsets(*mine)))


def install() -> None:
    """The gap guard, the metrics endpoint and the speed-view writer (the worker only)."""
    global _writer
    from hot_path.agents import GapGuard  # agents imports this module

    app.sensors.add(GapGuard())
    # aiokafka logs every request at DEBUG: building those records cost ~8 % of the CPU.
    for name in ("aiokafka", "faust", "mode"):
        logging.getLogger(name).setLevel(max(logging.getLogger().level, logging.INFO))
    metrics.serve(settings.metrics_host, settings.metrics_port)
    if settings.speed_enabled:
        _writer = Writer()
        atexit.register(_writer.stop)
