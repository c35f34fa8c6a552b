"""The cold-path archiver against a real broker: every offset in the dataset exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq

from cold_path.archive import Archiver
from cold_path.config import ColdPathSettings
from cold_path.dataset import FileName, Record, data_files, to_rows, to_table, write_durably
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


def offsets_in(master) -> Counter[tuple[int, int]]:
    seen: Counter[tuple[int, int]] = Counter()
    for path, _ in data_files(master):
        table = pq.read_table(path, columns=["partition", "offset"])
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
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "COLD_TOPIC": topic,
        "COLD_GROUP_ID": group_id("cold-path"),
        "COLD_MASTER_DIR": str(tmp_path),
        "COLD_ROLL_MAX_RECORDS": "97",
        "COLD_INSTANCE_ID": "archiver-1",
    }
    cmd = [sys.executable, "-m", "cold_path", "archive", "--idle-exit", "4"]

    first = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(list(data_files(tmp_path))) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    partial = offsets_in(tmp_path)
    assert 0 < sum(partial.values()) < 3001, "the kill should land mid-stream"

    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr

    assert offsets_in(tmp_path) == produced_offsets(reports)


def test_files_renamed_before_a_crash_are_not_written_again(
    tmp_path, kafka_settings, new_topic, producer, group_id
):
    topic = new_topic(1)
    reports = produce_all(producer, topic, telemetry(50))
    # A previous run wrote offsets 0-19 and died before committing them.
    records = [
        Record(topic, 0, m.offset(), m.timestamp()[1], m.key(), m.value()) for m in reports[:20]
    ]
    for date, rows in to_rows(records).items():
        write_durably(
            to_table(rows), tmp_path / f"event_date={date}", FileName(topic, 0, 0, 19).render()
        )

    settings = ColdPathSettings(topic=topic, group_id=group_id("cold-path"), master_dir=tmp_path)
    stats = Archiver(settings, kafka_settings).run(idle_exit_s=3)

    assert stats.skipped == 20 and stats.records == 30
    assert offsets_in(tmp_path) == produced_offsets(reports)
