"""The master dataset's files: names, rows, durability and what a restart can learn from them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from cold_path.dataset import (
    FileName,
    Record,
    archived_offsets,
    data_files,
    remove_stale_temporaries,
    to_rows,
    to_table,
    write_durably,
)
from fleet.telemetry import TelemetryEvent, encode_event

VIN = "1HGCM82633A004352"


def record(offset: int, value: bytes, *, ts: datetime | None = None) -> Record:
    stamp = ts or datetime(2026, 11, 25, 12, tzinfo=UTC)
    return Record("fleet.telemetry", 3, offset, int(stamp.timestamp() * 1000), VIN.encode(), value)


def event(seq: int, when: datetime) -> bytes:
    return encode_event(
        TelemetryEvent(vin=VIN, seq=seq, event_time=when, speed=50.0, odometer=10.5)
    )


def test_file_names_carry_topic_partition_and_offset_range():
    name = FileName("fleet.telemetry", 3, 1200, 1299)
    assert name.render() == "fleet.telemetry-p003-000000001200-000000001299.parquet"
    assert FileName.parse(name.render()) == name
    assert FileName.parse(".fleet.telemetry-p003-1-2.parquet.abc.tmp") is None


def test_rows_are_filed_by_event_date_and_bad_records_keep_their_bytes():
    before_midnight = datetime(2026, 11, 24, 23, 59, 59, tzinfo=UTC)
    after_midnight = datetime(2026, 11, 25, 0, 0, 1, tzinfo=UTC)
    rows = to_rows(
        [
            record(1, event(1, before_midnight)),
            record(2, b'{"broken'),
            record(3, event(2, after_midnight)),
        ]
    )
    assert sorted(rows) == ["2026-11-24", "2026-11-25"]
    (late,) = rows["2026-11-24"]
    assert late["valid"] and late["vin"] == VIN and late["speed"] == 50.0
    bad = next(r for r in rows["2026-11-25"] if not r["valid"])
    assert bad["raw"] == b'{"broken' and bad["error_reason"] == "malformed_json"
    assert "vin" not in bad  # parsed columns stay empty


def test_a_written_file_reads_back_with_every_column(tmp_path):
    rows = to_rows([record(7, event(1, datetime(2026, 11, 25, 8, tzinfo=UTC)))])["2026-11-25"]
    path = write_durably(to_table(rows), tmp_path, "2026-11-25", "f-p003-7-7.parquet")
    assert path == str(tmp_path / "event_date=2026-11-25" / "f-p003-7-7.parquet")
    table = pq.read_table(path)
    assert table.num_rows == 1
    assert table.column("offset").to_pylist() == [7]
    assert table.column("event_time").to_pylist()[0] == datetime(2026, 11, 25, 8, tzinfo=UTC)
    assert table.column("raw").to_pylist()[0].startswith(b"{")
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_restart_learns_which_offsets_are_already_archived(tmp_path):
    day = tmp_path / "event_date=2026-11-25"
    for first, last in [(0, 9), (10, 19)]:
        rows = to_rows(
            [
                record(o, event(o, datetime(2026, 11, 25, tzinfo=UTC)))
                for o in range(first, last + 1)
            ]
        )
        name = FileName("fleet.telemetry", 3, first, last).render()
        write_durably(to_table(rows["2026-11-25"]), tmp_path, "2026-11-25", name)
    (day / ".fleet.telemetry-p003-000000000020-000000000029.parquet.1234.tmp").write_bytes(b"half")

    assert len(list(data_files(tmp_path))) == 2
    assert archived_offsets(tmp_path, "fleet.telemetry", 3, since=15) == set(range(15, 20))
    assert archived_offsets(tmp_path, "fleet.telemetry", 4, since=0) == set()
    assert remove_stale_temporaries(tmp_path) == []  # fresh: maybe another member's
    assert [Path(p).name for p in remove_stale_temporaries(tmp_path, older_than_s=-1)] == [
        ".fleet.telemetry-p003-000000000020-000000000029.parquet.1234.tmp"
    ]
    assert not list(day.glob(".*.tmp"))
