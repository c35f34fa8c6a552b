"""The immutable master dataset: Parquet files of raw records plus parsed columns.

Layout: ``<master>/event_date=YYYY-MM-DD/<topic>-p<partition>-<first>-<last>.parquet``.
The name carries the topic, the Kafka partition and the offset range of the
flush that wrote it, so a file can be traced to the log it came from and a
restart can tell what is already archived. A file becomes visible only by an
atomic rename after its bytes are on disk; a name never ends in ``.parquet``
before that.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fleet.errors import ContractError
from fleet.telemetry import TYRES, decode_event

SIGNALS = (
    "speed", "acceleration", "odometer", "latitude", "longitude", "heading",
    "fuel_level", "fuel_litres", "fuel_rate", "range", "coolant_temp", "oil_temp",
    "oil_pressure", "engine_speed", *TYRES, "battery_voltage",
)  # fmt: skip
TEXT = ("vin", "trip_id", "origin", "destination", "segment_id")
UTC_MS = pa.timestamp("ms", tz="UTC")
UTC_US = pa.timestamp("us", tz="UTC")

SCHEMA = pa.schema(
    [
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("kafka_timestamp", UTC_MS),
        ("key", pa.binary()),
        ("raw", pa.binary()),
        ("valid", pa.bool_()),
        ("error_reason", pa.string()),
        ("error_field", pa.string()),
        ("seq", pa.int64()),
        ("event_time", UTC_US),
        *[(name, pa.string()) for name in TEXT],
        *[(name, pa.float64()) for name in SIGNALS],
        ("dtcs", pa.list_(pa.string())),
    ]
)
"""Parsed columns use the contract's attribute names (``fleet.telemetry.VSS_PATHS``
maps them to VSS paths): dotted names are awkward in Spark SQL."""

_NAME = re.compile(r"^(?P<topic>.+)-p(?P<partition>\d+)-(?P<first>\d+)-(?P<last>\d+)\.parquet$")


@dataclass(frozen=True)
class Record:
    """One Kafka record as the archiver received it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True)
class FileName:
    topic: str
    partition: int
    first: int
    last: int

    def render(self) -> str:
        return f"{self.topic}-p{self.partition:03d}-{self.first:012d}-{self.last:012d}.parquet"

    @classmethod
    def parse(cls, name: str) -> FileName | None:
        m = _NAME.match(name)
        if not m:
            return None
        return cls(m["topic"], int(m["partition"]), int(m["first"]), int(m["last"]))


def to_rows(records: Iterable[Record]) -> dict[str, list[dict[str, object]]]:
    """Parse each record against the contract and group the rows by event date.

    A record that fails the contract keeps its raw bytes and the reason; its
    parsed columns stay empty and it is filed under the date Kafka stamped it.
    """
    by_date: dict[str, list[dict[str, object]]] = defaultdict(list)
    for rec in records:
        stamped = datetime.fromtimestamp(rec.timestamp_ms / 1000, UTC)
        row: dict[str, object] = {
            "topic": rec.topic,
            "partition": rec.partition,
            "offset": rec.offset,
            "kafka_timestamp": stamped,
            "key": rec.key,
            "raw": rec.value,
        }
        try:
            event = decode_event(rec.value)
        except ContractError as exc:
            row.update(valid=False, error_reason=exc.reason, error_field=exc.field)
            by_date[stamped.date().isoformat()].append(row)
            continue
        row.update(event.model_dump(by_alias=False, exclude={"schema_version"}), valid=True)
        by_date[event.event_time.date().isoformat()].append(row)
    return by_date


def to_table(rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def write_durably(table: pa.Table, directory: Path, name: str) -> Path:
    """Write, fsync, then rename into place: a reader sees the whole file or none of it."""
    if not directory.exists():
        directory.mkdir(parents=True, exist_ok=True)
        _fsync_dir(directory.parent)  # a new event_date= directory must survive a power cut too
    final = directory / name
    tmp = directory / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    with tmp.open("wb") as fh:
        pq.write_table(table, fh, compression="zstd")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    _fsync_dir(directory)  # the rename itself must survive a power cut
    return final


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def data_files(master: Path) -> Iterator[tuple[Path, FileName]]:
    """Every visible data file of the dataset with its parsed name."""
    for path in sorted(master.glob("event_date=*/*.parquet")):
        name = FileName.parse(path.name)
        if name is not None:
            yield path, name


def archived_offsets(master: Path, topic: str, partition: int, since: int) -> set[int]:
    """Offsets at or after ``since`` of ``topic``/``partition`` already in the dataset."""
    found: set[int] = set()
    for path, name in data_files(master):
        if name.topic == topic and name.partition == partition and name.last >= since:
            offsets = pq.read_table(path, columns=["offset"]).column("offset").to_pylist()
            found.update(o for o in offsets if o >= since)
    return found


STALE_AFTER_S = 600.0


def remove_stale_temporaries(master: Path, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Delete files a crash left before their rename; their records were never acknowledged.

    Only temporaries older than ``older_than_s``: a fresh one may be another
    group member's file being written right now.
    """
    cutoff = time.time() - older_than_s
    stale = [p for p in master.glob("event_date=*/.*.tmp") if p.stat().st_mtime < cutoff]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
