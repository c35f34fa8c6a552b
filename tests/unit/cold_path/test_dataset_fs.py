"""The master dataset on an fsspec URL: the same files and guarantees off local disk."""

from __future__ import annotations

import io
import posixpath
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import fsspec
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from pydantic import ValidationError

from cold_path.config import ColdPathSettings
from cold_path.dataset import (
    FileName,
    Master,
    StorageError,
    archived_offsets,
    data_files,
    hadoop_uri,
    read_columns,
    readable_files,
    remove_stale_temporaries,
    to_rows,
    to_table,
    write_durably,
)
from cold_path.extract import extract
from fleet.errors import ConfigError
from tests.unit.cold_path.test_dataset import event, record

DAY = "2026-11-25"


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A master dataset of its own on fsspec's in-process ``memory://`` filesystem."""
    url = f"memory://master-{uuid.uuid4().hex[:8]}"
    yield url
    fs = fsspec.filesystem("memory")
    root = Master.at(url).root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def archive(master: object, first: int, last: int) -> str:
    """Write the records ``first..last`` of partition 3 the way the archiver does."""
    rows = to_rows(
        [record(o, event(o, datetime(2026, 11, 25, 6, tzinfo=UTC))) for o in range(first, last + 1)]
    )
    name = FileName("fleet.telemetry", 3, first, last).render()
    return write_durably(to_table(rows[DAY]), master, DAY, name)  # type: ignore[arg-type]


def test_a_file_written_to_memory_reads_back_whole_with_no_temporary_left(memory_url):
    path = archive(memory_url, 0, 9)

    fs = fsspec.filesystem("memory")
    day = Master.at(memory_url).path(f"event_date={DAY}")
    assert fs.ls(day, detail=False) == [path]  # the final name only, no temporary beside it
    assert path == posixpath.join(day, "fleet.telemetry-p003-000000000000-000000000009.parquet")
    with fsspec.open(f"memory://{path}", "rb") as fh:
        table = pq.read_table(fh)
    assert table.column("offset").to_pylist() == list(range(10))
    assert read_columns(memory_url, path, ["offset"]).column("offset").to_pylist() == list(
        range(10)
    )
    assert not list(Path.cwd().glob("master-*"))  # nothing landed on local disk instead


def test_a_restart_on_memory_skips_archived_offsets_and_sees_through_damage(memory_url):
    archive(memory_url, 0, 9)
    archive(memory_url, 10, 19)
    fs = fsspec.filesystem("memory")
    day = Master.at(memory_url).path(f"event_date={DAY}")
    # A copy cut short under a final name (a damaged disk, a partial upload by hand) ...
    whole = fs.cat_file(archive(memory_url, 20, 29))
    damaged = posixpath.join(day, FileName("fleet.telemetry", 3, 20, 29).render())
    fs.pipe_file(damaged, whole[: len(whole) // 2])
    # ... and a temporary a crash left before its move.
    temporary = posixpath.join(day, ".fleet.telemetry-p003-000000000030-000000000039.parquet.1.tmp")
    fs.pipe_file(temporary, b"half")

    assert [name.first for _, name in data_files(memory_url)] == [0, 10, 20]
    good, bad = readable_files(memory_url)
    assert good == [posixpath.join(day, FileName("fleet.telemetry", 3, f, f + 9).render())
                    for f in (0, 10)]  # fmt: skip
    assert [path for path, _ in bad] == [damaged]
    assert "magic bytes" in bad[0][1]
    # The damaged file's offsets count as not archived: Kafka's copies get written again.
    assert archived_offsets(memory_url, "fleet.telemetry", 3, since=15) == set(range(15, 20))
    assert archived_offsets(memory_url, "fleet.telemetry", 4, since=0) == set()

    assert remove_stale_temporaries(memory_url) == []  # fresh: maybe another member's
    assert remove_stale_temporaries(memory_url, older_than_s=-1) == [temporary]
    assert not fs.exists(temporary)
    assert fs.exists(damaged)  # a data file is never deleted, damaged or not


class _ConnectionReset(io.BytesIO):
    """The object is there, with its size, but reading its bytes fails."""

    def read(self, size: int | None = -1) -> bytes:
        raise ConnectionResetError("connection reset by peer")

    def readinto(self, buffer: Any) -> int:
        raise ConnectionResetError("connection reset by peer")


class _FlakyStore(MemoryFileSystem):  # type: ignore[misc]
    """The memory store, but every read fails the way a network filesystem can."""

    cachable = False

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if "r" in mode:
            return _ConnectionReset(super()._open(path, mode, **kwargs).getvalue())
        return super()._open(path, mode, **kwargs)


def test_a_storage_failure_stops_the_run_instead_of_passing_for_damage(memory_url):
    archive(memory_url, 0, 9)
    flaky = Master(_FlakyStore(), Master.at(memory_url).root)

    # Taking the file for damaged would archive its offsets a second time.
    with pytest.raises(StorageError, match="connection reset"):
        archived_offsets(flaky, "fleet.telemetry", 3, since=0)
    with pytest.raises(StorageError, match="connection reset"):
        readable_files(flaky)


def test_spark_reads_local_files_by_file_uri_and_s3_by_s3a(tmp_path):
    local = Master.at(f"file://{tmp_path}")
    assert local.local and local.root == str(tmp_path)
    assert Master.at(tmp_path) == local  # a plain path is the same dataset
    assert local.hadoop_uri() == f"file://{tmp_path}"
    assert hadoop_uri("s3", "fleet-data/master/x.parquet") == "s3a://fleet-data/master/x.parquet"
    assert hadoop_uri("gcs", "fleet-data/master") == "gs://fleet-data/master"
    with pytest.raises(ConfigError, match="memory://"):
        Master.at("memory://m").hadoop_uri()
    # The batch refuses such a dataset before it touches Spark at all.
    with pytest.raises(ConfigError, match="one Python process"):
        extract(cast(Any, None), "memory://m")
    with pytest.raises(ConfigError, match="nosuch://bucket"):
        Master.at("nosuch://bucket/master")


def test_the_dataset_location_is_a_url_or_a_path_defaulting_under_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("COLD_MASTER_DIR", raising=False)
    monkeypatch.delenv("COLD_MASTER_URL", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert ColdPathSettings().master() == str(tmp_path / "master")
    monkeypatch.setenv("COLD_MASTER_DIR", str(tmp_path / "elsewhere"))
    assert ColdPathSettings().master() == str(tmp_path / "elsewhere")
    monkeypatch.delenv("COLD_MASTER_DIR")
    monkeypatch.setenv("COLD_MASTER_URL", "memory://fleet")
    assert ColdPathSettings().master() == "memory://fleet"

    with pytest.raises(ValidationError, match="unset one"):
        ColdPathSettings(master_dir=tmp_path)
    with pytest.raises(ValidationError, match="no filesystem 'nosuch'"):
        ColdPathSettings(master_url="nosuch://bucket/master")
