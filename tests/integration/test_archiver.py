"""The cold-path archiver against a real broker: every offset in the dataset exactly once,
on local disk by path or ``file://`` URL and on fsspec's in-process ``memory://``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import fsspec
import pytest

from cold_path.archive import Archiver
from cold_path.config import ColdPathSettings
from cold_path.dataset import (
    FileName,
    Master,
    Record,
    data_files,
    read_columns,
    to_rows,
    to_table,
    write_durably,
)
from cold_path.extract import extract
from fleet.telemetry import TelemetryEvent, encode_event
from tests.utils.kafka import produce_all

VINS = ["1HGCM82633A004352", "1M8GDM9AXKP042788", "WVWZZZ1JZXW000001"]


def telemetry(n: int) -> list[tuple[bytes, bytes]]:
    start = datetime(2026, 11, 24, 23, 50, tzinfo=UTC)  # crosses midnight
    out = []
    for i in range(n):
        vin = VINS[i % len(VINS)]
        ev = TelemetryEvent(vin=vin, seq=i, event_time=start + timedelta(seconds=i), speed=40.0)
        out.append((vin.encode(), encode_event(ev)))
    return out


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    # Whatever the dataset setting does, nothing of these tests lands in the repo's data/.
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A master dataset of its own on fsspec's ``memory://`` (this process only)."""
    url = f"memory://archiver-{uuid.uuid4().hex[:8]}"
    yield url
    fs, root = fsspec.filesystem("memory"), Master.at(url).root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def offsets_in(master) -> Counter[tuple[int, int]]:
    seen: Counter[tuple[int, int]] = Counter()
    for path, _ in data_files(master):
        table = read_columns(master, path, ["partition", "offset"])
        pairs = zip(
            table.column("partition").to_pylist(), table.column("offset").to_pylist(), strict=True
        )
        seen.update(pairs)
    return seen


def produced_offsets(reports) -> Counter[tuple[int, int]]:
    return Counter((m.partition(), m.offset()) for m in reports)


def test_sigkill_mid_stream_and_restart_archives_every_record_once(
    tmp_path, kafka_bootstrap, new_topic, producer, group_id
):
    topic = new_topic(3)
    reports = produce_all(producer, topic, telemetry(3000) + [(b"x", b"not json")])
    # A subprocess cannot see this process's memory://: the URL names a local directory.
    master = f"file://{tmp_path / 'master'}"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "COLD_TOPIC": topic,
        "COLD_GROUP_ID": group_id("cold-path"),
        "COLD_MASTER_URL": master,
        "COLD_ROLL_MAX_RECORDS": "97",
        "COLD_INSTANCE_ID": "archiver-1",
    }
    cmd = [sys.executable, "-m", "cold_path", "archive", "--idle-exit", "4"]

    first = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(list(data_files(master))) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    partial = offsets_in(master)
    assert 0 < sum(partial.values()) < 3001, "the kill should land mid-stream"

    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr

    assert offsets_in(master) == produced_offsets(reports)
    assert f"under {tmp_path / 'master'}" in second.stderr


def test_files_moved_into_place_before_a_crash_are_not_written_again_on_memory(
    memory_url, kafka_settings, new_topic, producer, group_id
):
    topic = new_topic(1)
    reports = produce_all(producer, topic, telemetry(50))
    # A previous run wrote offsets 0-19 and died before committing them.
    records = [
        Record(topic, 0, m.offset(), m.timestamp()[1], m.key(), m.value()) for m in reports[:20]
    ]
    for date, rows in to_rows(records).items():
        write_durably(to_table(rows), memory_url, date, FileName(topic, 0, 0, 19).render())

    settings = ColdPathSettings(topic=topic, group_id=group_id("cold-path"), master_url=memory_url)
    stats = Archiver(settings, kafka_settings).run(idle_exit_s=3)

    assert stats.skipped == 20 and stats.records == 30
    assert offsets_in(memory_url) == produced_offsets(reports)
    fs, root = fsspec.filesystem("memory"), Master.at(memory_url).root
    assert not [p for p in fs.find(root) if p.endswith(".tmp")]  # every temporary moved


def test_the_batch_extract_reads_a_dataset_given_as_a_file_url(
    tmp_path, spark, kafka_settings, new_topic, producer, group_id
):
    topic = new_topic(3)
    reports = produce_all(producer, topic, telemetry(900) + [(b"x", b"not json")])
    settings = ColdPathSettings(
        topic=topic, group_id=group_id("cold-path"), master_url=f"file://{tmp_path / 'master'}",
        roll_max_records=100,
    )  # fmt: skip
    Archiver(settings, kafka_settings).run(idle_exit_s=3)
    broken = tmp_path / "master" / "event_date=2026-11-25" / FileName(topic, 9, 0, 9).render()
    broken.write_bytes(b"PAR1 cut short by a copy")

    data = extract(spark, settings.master())

    assert [path for path, _ in data.excluded] == [str(broken)]
    assert data.invalid == 1
    valid = [m for m in reports if m.value() != b"not json"]
    events = data.events.select("partition", "offset", "event_date").collect()
    assert Counter((r.partition, r.offset) for r in events) == produced_offsets(valid)
    # Partition discovery under the file:// base path still names each file's day.
    assert {r.event_date.isoformat() for r in events} == {"2026-11-24", "2026-11-25"}
