"""The archiver: group ``cold-path`` lands ``fleet.telemetry`` in the master dataset.

Exactly once per (partition, offset), across crashes:
- a file is written under a temporary name and moved into place (fsync and
  rename on local disk, the filesystem's move elsewhere: see
  ``dataset.write_durably``); only then is the offset after its last record
  committed;
- on (re)assignment the archiver reads which offsets at or after the committed
  one are already in files (a crash between the move and the commit leaves
  some), and skips them when Kafka delivers them again;
- temporaries left by a crash before the move are deleted at start: their
  records were never committed and will be read again (or, after a crash
  between an object store's copy and delete, are in the final file already).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, Message, TopicPartition

from cold_path.config import ColdPathSettings
from cold_path.dataset import (
    FileName,
    Master,
    Record,
    archived_offsets,
    remove_stale_temporaries,
    to_rows,
    to_table,
    write_durably,
)
from fleet.config import KafkaSettings

log = logging.getLogger(__name__)


@dataclass
class PartitionBuffer:
    records: list[Record] = field(default_factory=list)
    size: int = 0
    since: float = 0.0
    """Monotonic time the oldest buffered record arrived."""
    skip: set[int] = field(default_factory=set)
    """Offsets already archived by a run that crashed before committing them."""


@dataclass
class ArchiveStats:
    records: int = 0
    skipped: int = 0
    invalid: int = 0
    files: int = 0


class Archiver:
    def __init__(self, settings: ColdPathSettings, kafka: KafkaSettings) -> None:
        self.settings = settings
        self.master = Master.at(settings.master())
        self.stats = ArchiveStats()
        self.stopping = threading.Event()
        self._buffers: dict[int, PartitionBuffer] = {}
        overrides: dict[str, object] = {
            "enable.auto.commit": False,
            "client.id": f"{kafka.client_id}-archiver",
        }
        if settings.instance_id:
            overrides["group.instance.id"] = settings.instance_id
        self._consumer = Consumer(kafka.consumer_config(settings.group_id, **overrides))
        self._assigned_at: float | None = None

    def run(self, *, idle_exit_s: float | None = None) -> ArchiveStats:
        """Archive until `stop()`, or until nothing arrived for ``idle_exit_s`` seconds."""
        for path in remove_stale_temporaries(self.master):
            log.warning("removed %s, left by a crash before its move", self.master.display(path))
        self._consumer.subscribe(
            [self.settings.topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )  # fmt: skip
        last_data = time.monotonic()
        try:
            while not self.stopping.is_set():
                messages = self._consumer.consume(num_messages=1000, timeout=0.5)
                for msg in messages:
                    self._take(msg)
                if messages:
                    last_data = time.monotonic()
                self._flush_due()
                if idle_exit_s is not None and self._idle_for(last_data) > idle_exit_s:
                    break
            self._flush(list(self._buffers))
        finally:
            self._consumer.close()
        return self.stats

    def stop(self) -> None:
        self.stopping.set()

    def _idle_for(self, last_data: float) -> float:
        # Idle time counts from the assignment: waiting for the group is not idleness.
        if self._assigned_at is None:
            return 0.0
        return time.monotonic() - max(last_data, self._assigned_at)

    def _take(self, msg: Message) -> None:
        err = msg.error()
        if err is not None:
            if err.code() != KafkaError._PARTITION_EOF:
                log.error("consumer error on %s [%s]: %s", msg.topic(), msg.partition(), err)
            return
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        if topic is None or partition is None or offset is None:
            return  # only error events lack these, and those returned above
        buf = self._buffers.setdefault(partition, PartitionBuffer())
        if offset in buf.skip:
            buf.skip.discard(offset)
            self.stats.skipped += 1
            return
        value = msg.value() or b""
        if not buf.records:
            buf.since = time.monotonic()
        buf.records.append(Record(topic, partition, offset, msg.timestamp()[1], msg.key(), value))
        buf.size += len(value)
        s = self.settings
        if len(buf.records) >= s.roll_max_records or buf.size >= s.roll_max_bytes:
            self._flush([partition])

    def _flush_due(self) -> None:
        now = time.monotonic()
        due = [
            p
            for p, b in self._buffers.items()
            if b.records and now - b.since >= self.settings.roll_max_age_s
        ]
        if due:
            self._flush(due)

    def _flush(self, partitions: list[int]) -> None:
        commits = []
        for partition in partitions:
            buf = self._buffers.get(partition)
            if buf is None or not buf.records:
                continue
            first, last = buf.records[0].offset, buf.records[-1].offset
            name = FileName(self.settings.topic, partition, first, last).render()
            for date, rows in to_rows(buf.records).items():
                write_durably(to_table(rows), self.master, date, name)
                self.stats.files += 1
                self.stats.invalid += sum(1 for r in rows if not r["valid"])
            self.stats.records += len(buf.records)
            log.info("archived %s [%d] offsets %d-%d", self.settings.topic, partition, first, last)
            commits.append(TopicPartition(self.settings.topic, partition, last + 1))
            buf.records, buf.size = [], 0
        if commits:
            # Only now, with every file whole under its final name, may the group move on.
            self._consumer.commit(offsets=commits, asynchronous=False)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned_at = time.monotonic()
        committed = consumer.committed(partitions, timeout=30)
        for tp in committed:
            since = tp.offset if tp.offset != OFFSET_INVALID and tp.offset >= 0 else 0
            skip = archived_offsets(self.master, tp.topic, tp.partition, since)
            if skip:
                log.info("partition %d: %d offsets from %d already archived", tp.partition,
                         len(skip), since)  # fmt: skip
            self._buffers[tp.partition] = PartitionBuffer(skip=skip)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Hand the partition over with its records on disk and its offset committed.
        self._flush([tp.partition for tp in partitions])
        for tp in partitions:
            self._buffers.pop(tp.partition, None)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Another member may own these already: drop what is buffered, it will be re-read.
        for tp in partitions:
            self._buffers.pop(tp.partition, None)
