"""The immutable master dataset: Parquet files of raw records plus parsed columns.

Layout: ``<master>/event_date=YYYY-MM-DD/<topic>-p<partition>-<first>-<last>.parquet``.
The name carries the topic, the Kafka partition and the offset range of the
flush that wrote it, so a file can be traced to the log it came from and a
restart can tell what is already archived.

``<master>`` is a local directory or any fsspec URL (``file:///srv/master``,
``s3://bucket/master``, ``memory://m`` in tests); every read, listing and
write goes through the URL's filesystem object. A name ending in
``.parquet`` appears only whole: on local disk by an atomic rename after the
bytes are fsynced, elsewhere by the filesystem's move of a finished temporary
(an object store creates the final object whole or not at all).
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem  # type: ignore[import-untyped]
from fsspec.core import url_to_fs  # type: ignore[import-untyped]
from fsspec.implementations.local import LocalFileSystem  # type: ignore[import-untyped]

from fleet.errors import ConfigError, ContractError, FleetError
from fleet.telemetry import TYRES, decode_event

log = logging.getLogger(__name__)

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


class StorageError(FleetError):
    """The filesystem under the master dataset failed to answer (not the file's bytes):
    the run stops rather than take a good file for a damaged one."""


class UnreadableFile(FleetError):
    """A data file's bytes are not a Parquet file of the master dataset's schema."""


HADOOP_SCHEMES = {
    "file": "file",
    "local": "file",
    "s3": "s3a",
    "s3a": "s3a",
    "gs": "gs",
    "gcs": "gs",
}
"""fsspec protocol -> the Hadoop filesystem scheme Spark reads it with."""


@dataclass(frozen=True)
class Master:
    """Where the master dataset lives: a filesystem and the dataset's root path on it."""

    fs: AbstractFileSystem
    root: str

    @classmethod
    def at(cls, location: MasterLike) -> Master:
        """Resolve a plain path or an fsspec URL; a ``Master`` is returned as it is."""
        if isinstance(location, Master):
            return location
        try:
            fs, root = url_to_fs(os.fspath(location))
        except (ImportError, ValueError) as exc:  # an unknown protocol, its package missing
            raise ConfigError(f"cannot open the master dataset at {location}: {exc}") from exc
        return cls(fs, root.rstrip("/") or "/")

    @property
    def local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def display(self, path: str | None = None) -> str:
        """How logs and reports name a file: a plain path on local disk, a URL elsewhere."""
        path = self.root if path is None else path
        return path if self.local else str(self.fs.unstrip_protocol(path))

    def hadoop_uri(self, path: str | None = None) -> str:
        """The URI Spark (Hadoop's filesystems) reads ``path`` by."""
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return hadoop_uri(protocol, self.root if path is None else path)

    def __str__(self) -> str:
        return self.display()


MasterLike = Master | str | os.PathLike[str]


def hadoop_uri(protocol: str, path: str) -> str:
    """``file:///abs/path`` for local disk, ``s3a://bucket/key`` for S3, ``gs://`` for GCS."""
    scheme = HADOOP_SCHEMES.get(protocol)
    if scheme is None:
        why = (
            "it lives inside one Python process"
            if protocol == "memory"
            else "no Hadoop filesystem is mapped to it"
        )
        raise ConfigError(
            f"Spark cannot read a master dataset on {protocol}:// ({why}): "
            "give the batch a local path, file://, s3:// or gs:// URL"
        )
    return f"file://{path}" if scheme == "file" else f"{scheme}://{path.lstrip('/')}"


def write_durably(table: pa.Table, master: MasterLike, event_date: str, name: str) -> str:
    """Put ``table`` under ``event_date=<event_date>/<name>``; a reader sees the whole file
    or none of it, and once this returns the file outlives a crash of this process.

    Local disk: write a hidden temporary, fsync, rename into place, fsync the
    directory (power-cut safe). Any other filesystem: write the temporary, then
    the filesystem's own move (a rename where it has one; on object stores a
    server-side copy, which creates the final object whole, and a delete).
    """
    m = Master.at(master)
    directory = m.path(f"event_date={event_date}")
    final = posixpath.join(directory, name)
    tmp = posixpath.join(directory, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
    if m.local:
        _write_local(table, directory, tmp, final)
        return final
    m.fs.makedirs(directory, exist_ok=True)
    with m.fs.open(tmp, "wb") as fh:  # an upload completes (or raises) on close
        pq.write_table(table, fh, compression="zstd")
    m.fs.mv(tmp, final)
    return final


def _write_local(table: pa.Table, directory: str, tmp: str, final: str) -> None:
    if not os.path.isdir(directory):
        os.makedirs(directory, exist_ok=True)
        _fsync_dir(os.path.dirname(directory))  # a new event_date= directory must survive too
    with open(tmp, "wb") as fh:
        pq.write_table(table, fh, compression="zstd")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    _fsync_dir(directory)  # the rename itself must survive a power cut


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _entries(m: Master) -> Iterator[tuple[str, str]]:
    """Every file in the dataset's ``event_date=`` directories: (path, base name), sorted."""
    m.fs.invalidate_cache(m.root)  # another process may have written since we last looked
    try:
        days = m.fs.ls(m.root, detail=True)
    except FileNotFoundError:
        return
    for day in sorted(d["name"] for d in days if d["type"] == "directory"):
        if not _base(day).startswith("event_date="):
            continue
        for path in sorted(e["name"] for e in m.fs.ls(day, detail=True) if e["type"] == "file"):
            yield path, _base(path)


def _base(path: str) -> str:
    return posixpath.basename(path.rstrip("/"))


def data_files(master: MasterLike) -> Iterator[tuple[str, FileName]]:
    """Every visible data file of the dataset (its path on the filesystem) with its parsed name."""
    for path, base in _entries(Master.at(master)):
        name = FileName.parse(base)
        if name is not None and not base.startswith((".", "_")):
            yield path, name


T = TypeVar("T")


class _Guarded:
    """A file whose read failures come out as ``StorageError``: pyarrow passes a Python
    exception from a file object through unchanged, so I/O trouble and damaged bytes
    stay apart."""

    def __init__(self, fh: Any, name: str) -> None:
        self._fh, self._name = fh, name

    def _io(self, call: Callable[..., T], *args: Any) -> T:
        try:
            return call(*args)
        except Exception as exc:  # whatever the filesystem raises, it is the storage's fault
            raise StorageError(f"reading {self._name}: {exc}") from exc

    def read(self, size: int = -1) -> bytes:
        return self._io(self._fh.read, size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._io(self._fh.seek, offset, whence)

    def tell(self) -> int:
        return self._io(self._fh.tell)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._fh, attr)


def _parse(m: Master, path: str, parse: Callable[[Any], T]) -> T:
    """``parse`` an open data file: ``StorageError`` if the filesystem fails,
    ``UnreadableFile`` if the bytes are not a dataset file."""
    try:
        fh = m.fs.open(path, "rb")
    except Exception as exc:
        raise StorageError(f"opening {m.display(path)}: {exc}") from exc
    try:
        return parse(_Guarded(fh, m.display(path)))
    except StorageError:
        raise
    except Exception as exc:  # pyarrow raises several types (and OSError) for damaged bytes
        raise UnreadableFile(str(exc)) from exc
    finally:
        fh.close()


def _check(fh: Any) -> None:
    parquet = pq.ParquetFile(fh)  # reads the footer: a truncated file fails here
    if not parquet.schema_arrow.equals(SCHEMA, check_metadata=False):
        raise ValueError("schema differs from the master dataset's")


def readable_files(master: MasterLike) -> tuple[list[str], list[tuple[str, str]]]:
    """Split the data files into those with an intact footer and the dataset's schema, and
    the rest with the reason. A file the storage fails to serve raises ``StorageError``."""
    m = Master.at(master)
    good: list[str] = []
    bad: list[tuple[str, str]] = []
    for path, _ in data_files(m):
        try:
            _parse(m, path, _check)
        except UnreadableFile as exc:
            log.error("excluding %s: %s", m.display(path), exc)
            bad.append((path, str(exc)))
            continue
        good.append(path)
    return good, bad


def read_columns(master: MasterLike, path: str, columns: list[str]) -> pa.Table:
    """Some columns of one data file, read through the dataset's filesystem.

    Only those columns' chunks and the footer are fetched (ranged reads on an object store).
    """
    return _parse(Master.at(master), path, lambda fh: pq.ParquetFile(fh).read(columns=columns))


def archived_offsets(master: MasterLike, topic: str, partition: int, since: int) -> set[int]:
    """Offsets at or after ``since`` of ``topic``/``partition`` already in readable files.

    A damaged file counts as not written: its offsets are archived again (a
    flush with the same range replaces it under the same name), and the batch
    leaves it out. A storage failure raises: taking a good file for missing
    would write its records twice.
    """
    m = Master.at(master)
    found: set[int] = set()
    for path, name in data_files(m):
        if name.topic == topic and name.partition == partition and name.last >= since:
            try:
                offsets = read_columns(m, path, ["offset"]).column("offset").to_pylist()
            except UnreadableFile as exc:
                log.error("%s is damaged, its offsets will be archived again: %s",
                          m.display(path), exc)  # fmt: skip
                continue
            found.update(o for o in offsets if o >= since)
    return found


STALE_AFTER_S = 600.0


def remove_stale_temporaries(master: MasterLike, older_than_s: float = STALE_AFTER_S) -> list[str]:
    """Delete temporaries a crash left before their move into place; their records were
    either never committed or are already in the final file.

    Only temporaries older than ``older_than_s`` (by the filesystem's clock): a
    fresh one may be another group member's file being written right now.
    """
    m = Master.at(master)
    cutoff = time.time() - older_than_s
    stale = []
    for path, base in _entries(m):
        if base.startswith(".") and base.endswith(".tmp"):
            written = _modified(m.fs, path)
            if written is not None and written < cutoff:
                stale.append(path)
    for path in stale:
        try:
            m.fs.rm_file(path)
        except FileNotFoundError:  # another member cleaned it first
            pass
    return stale


def _modified(fs: AbstractFileSystem, path: str) -> float | None:
    try:
        stamp = fs.modified(path)
    except (NotImplementedError, FileNotFoundError):
        stamp = None
    if isinstance(stamp, datetime):
        return stamp.timestamp()
    log.warning("cannot tell the age of %s: left in place", path)
    return None
