"""The speed-layer view writer: a Kafka consumer group and a process of its own.

The worker's Faust agent detects; this writer keeps the speed-layer views of
the serving store (`hot_path.speed_store`). It reads the telemetry topic and
the alerts topic in its own consumer group, ``<HOT_APP_ID>-views``, so the
two are independent readers of the same records, as Kafka lets any number of
groups be. It runs in its own process: inside the worker, the views' upserts
held the interpreter lock against Faust's event loop and cost the worker
twice what they cost alone (docs/hot_path.md, "Throughput").

``python -m hot_path worker`` starts one writer next to itself (`spawn`) and
stops it on the way out; ``python -m hot_path views`` runs one on its own.
Writers of one app share the partitions like the workers do.

Exactly once: the store's ``speed_offsets`` are the truth. Every flush writes
its rows and the next offset of each topic partition in one transaction and
only then commits those offsets to Kafka, so Kafka's committed offset is
never ahead of the store; whatever a restarted writer reads again below the
stored offsets is skipped (`SpeedStore.record`). The Kafka commits also make
the writer's lag visible to ``python -m infra kafka status``.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from fleet.config import KafkaSettings
from fleet.errors import ContractError
from fleet.telemetry import decode_values
from hot_path.config import HotPathSettings
from hot_path.events import decode_alert
from hot_path.runtime import run_below, tune_gc
from hot_path.speed_store import SpeedStore, connect_store

log = logging.getLogger(__name__)
Record = tuple[str, int, int, bytes | None]
"""(topic, partition, offset, value) of one record read."""


@dataclass
class WriterStats:
    """Running totals, sent to the worker after every flush (its Prometheus metrics)."""

    records: int = 0
    alerts: int = 0
    skipped: int = 0
    """Telemetry the contract refuses (the worker dead-letters it)."""
    replayed: int = 0
    """Records read again below the store's offsets, and left out."""
    rows: int = 0
    flush_errors: int = 0
    lag: dict[int, int] = field(default_factory=dict)
    """Telemetry partition -> records between the writer's position and the partition's end."""


class ViewWriter:
    def __init__(self, settings: HotPathSettings, store: SpeedStore, consumer: Any) -> None:
        self.settings, self.store, self.consumer = settings, store, consumer
        self.stats = WriterStats()
        self._flushed_at = self._expired_at = time.monotonic()

    @classmethod
    def from_settings(cls, settings: HotPathSettings, kafka: KafkaSettings) -> ViewWriter:
        store = SpeedStore(
            connect_store(), group_id=settings.app_id, topic=settings.telemetry_topic,
            bucket_s=settings.speed_bucket_s, alerts_topic=settings.alerts_topic,
        )  # fmt: skip
        store.load()
        overrides = {
            "enable.auto.commit": False,
            "client.id": f"{kafka.client_id}-views",
            # A fetch answered as soon as one record is there costs the broker a request per
            # few records at a steady stream; waiting for 64 KiB or the wait, whichever comes
            # first, lets it answer a few times a second (the views are flushed at 0.5 s).
            "fetch.min.bytes": 64 * 1024,
            "fetch.wait.max.ms": settings.speed_fetch_wait_ms,
            # Per topic, the same partition numbers to each writer: every writer gets its
            # share of the telemetry, with the alerts of the same cars (co-partitioned).
            # Cooperative-sticky balances the count over both topics, and gave one of two
            # writers all twelve telemetry partitions and the other only alerts.
            "partition.assignment.strategy": "range",
        }
        consumer = Consumer(kafka.consumer_config(settings.views_group(), **overrides))
        return cls(settings, store, consumer)

    # -- records ----------------------------------------------------------------------
    def handle(self, records: Iterable[Record], now: datetime) -> None:
        """Account a batch of records of either topic into the store's pending batch."""
        store, telemetry = self.store, self.settings.telemetry_topic
        stored = store.next_offsets
        for topic, partition, offset, value in records:
            if offset < stored.get((topic, partition), 0):
                self.stats.replayed += 1  # the store holds it: left out before decoding
                continue
            if topic == telemetry:
                try:
                    ev = decode_values(value) if value else None
                except ContractError:
                    ev = None  # the worker dead-letters it; nothing here for the views
                if ev is None:
                    store.skip(topic, partition, offset)
                    self.stats.skipped += 1
                elif store.record(ev, partition=partition, offset=offset, now=now) is None:
                    self.stats.replayed += 1  # below the store's offset: already counted
                else:
                    self.stats.records += 1
            elif value:
                try:
                    alert = decode_alert(value)
                except ValueError:  # pydantic's ValidationError: not one of ours
                    log.warning("skipped an unreadable alert at %s[%d]@%d", topic, partition,
                                offset)  # fmt: skip
                    store.skip(topic, partition, offset)
                    continue
                if store.alert(alert, partition=partition, offset=offset):
                    self.stats.alerts += 1
                else:
                    self.stats.replayed += 1

    def flush(self, *, commit: bool = True) -> bool:
        """Write the pending batch, then commit its offsets to Kafka; False if it failed."""
        self._flushed_at = time.monotonic()
        try:
            self.stats.rows += self.store.flush()
        except Exception:
            self.stats.flush_errors += 1
            log.exception("speed-view flush failed; the rows are kept for the next one")
            return False
        if not commit:
            return True
        try:
            # Only this writer's partitions: the store's offsets of the others date from the
            # last rebalance, and committing them would set the other writers' commits back.
            owned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
            offsets = [TopicPartition(t, p, o) for (t, p), o in self.store.next_offsets.items()
                       if (t, p) in owned]  # fmt: skip
            if offsets:
                self.consumer.commit(offsets=offsets, asynchronous=True)
        except Exception as exc:  # no assignment yet: Kafka's offsets are only for show
            log.debug("offset commit skipped: %s", exc)
        return True

    def expire(self) -> None:
        """Delete buckets the published batch views cover (with a margin)."""
        self._expired_at = time.monotonic()
        try:
            gone = self.store.expire(self.settings.speed_expire_margin_s)
        except Exception:
            log.exception("expiring speed buckets failed; trying again later")
            return
        if gone:
            log.info("expired %d speed buckets behind the batch watermark", gone)

    def _measure_lag(self) -> None:
        for tp in self.consumer.assignment():
            if tp.topic != self.settings.telemetry_topic:
                continue
            _, high = self.consumer.get_watermark_offsets(tp, cached=True)
            done = self.store.next_offsets.get((tp.topic, tp.partition))
            if high is not None and high >= 0 and done is not None:
                self.stats.lag[tp.partition] = max(high - done, 0)

    # -- rebalances -------------------------------------------------------------------
    def on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        # Cars that moved here carry on from the tracks their last writer stored. No commit
        # here: the new partitions start at Kafka's committed offsets, and what lies
        # between those and the store's offsets is read and left out (`handle`). Nothing
        # pending may be written now: range is eager, so `on_revoke` has written or
        # dropped the batch of every partition before any assignment.
        self.store.discard()
        self.store.load()

    def on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        # Hand the partitions over with their rows and offsets in the store. A batch that
        # cannot be written now is dropped: every partition starts again at its commit,
        # never ahead of the store, and reads those records again. Written later, it
        # would count again what the partitions' new owners read from the store's offsets.
        if not self.flush():
            self.store.discard()
            log.warning("pending rows dropped at a revocation: their records are read again "
                        "from the partitions' commits")  # fmt: skip
        for tp in partitions:
            self.stats.lag.pop(tp.partition, None)

    def on_lost(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        # Another writer may own these already and re-reads them from the store's offsets;
        # the pending batch mixes every partition, so drop it and re-read the ones kept.
        self.store.discard()
        self.store.load()
        for tp in consumer.assignment():
            # Nothing of a partition stored yet: the store holds none of it, read it all.
            done = self.store.next_offsets.get((tp.topic, tp.partition), OFFSET_BEGINNING)
            try:
                consumer.seek(TopicPartition(tp.topic, tp.partition, done))
            except KafkaException as exc:  # not fetching yet: it starts at the commit anyway
                log.warning("could not rewind %s[%d]: %s", tp.topic, tp.partition, exc)
        log.warning("lost partitions %s: pending rows dropped, re-reading from the store's "
                    "offsets", sorted((tp.topic, tp.partition) for tp in partitions))  # fmt: skip

    # -- the loop ---------------------------------------------------------------------
    def run(
        self, stopping: Callable[[], bool], report: Callable[[WriterStats], None] | None = None
    ) -> WriterStats:
        """Read, account and flush until ``stopping()``; a last flush on the way out."""
        s = self.settings
        self.consumer.subscribe(
            [s.telemetry_topic, s.alerts_topic],
            on_assign=self.on_assign, on_revoke=self.on_revoke, on_lost=self.on_lost,
        )  # fmt: skip
        try:
            while not stopping():
                messages = self.consumer.consume(num_messages=s.speed_read_batch, timeout=0.1)
                if messages:
                    self.handle(_records(messages), datetime.now(UTC))
                if time.monotonic() - self._flushed_at >= s.speed_flush_every_s:
                    self.flush()
                    self._measure_lag()
                    if report is not None:
                        report(self.stats)
                if time.monotonic() - self._expired_at >= s.speed_expire_every_s:
                    self.expire()
            self.flush()
        finally:
            self.consumer.close()
        return self.stats


def _records(messages: list[Message]) -> Iterable[Record]:
    for msg in messages:
        err = msg.error()
        if err is not None:
            if err.code() != KafkaError._PARTITION_EOF:
                log.error("consumer error on %s [%s]: %s", msg.topic(), msg.partition(), err)
            continue
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        if topic is not None and partition is not None and offset is not None:
            yield topic, partition, offset, msg.value()


def _die_with_parent() -> None:
    """Linux: SIGTERM this process when the worker that started it dies (even by SIGKILL)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent check in the loop remains
        pass


def serve(report: Callable[[WriterStats], None] | None = None) -> int:
    """Run one writer until SIGTERM or SIGINT (or its parent's end); the exit status."""
    settings = HotPathSettings()
    level = {"crit": "CRITICAL", "warn": "WARNING"}.get(settings.log_level, settings.log_level)
    logging.basicConfig(level=level.upper(), format="[%(asctime)s] [%(process)d] "
                        "[%(levelname)s] %(name)s: %(message)s")  # fmt: skip
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    parent = os.getppid()
    writer = ViewWriter.from_settings(settings, KafkaSettings())
    tune_gc(settings.gc_threshold)
    log.info("speed-view writer: group %s, topics %s and %s", settings.views_group(),
             settings.telemetry_topic, settings.alerts_topic)  # fmt: skip
    stats = writer.run(lambda: stop.is_set() or (report is not None and os.getppid() != parent),
                       report)  # fmt: skip
    log.info("speed-view writer stopped: %d records, %d alerts, %d rows written",
             stats.records, stats.alerts, stats.rows)  # fmt: skip
    return 0


def child_main(conn: Connection) -> None:
    """The worker's writer process (`multiprocessing` spawn target): stats go up ``conn``."""
    _die_with_parent()
    # The detector first: when the cores are all busy the views fall behind, not the
    # alerts, and a writer that is behind writes bigger, cheaper batches.
    settings = HotPathSettings()
    run_below(settings.speed_nice, idle=settings.speed_sched_idle)

    def report(stats: WriterStats) -> None:
        try:
            conn.send(stats)
        except OSError:  # the worker is gone; the loop sees it too
            pass

    raise SystemExit(serve(report))
