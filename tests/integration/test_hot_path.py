"""A real hot-path worker (``python -m hot_path worker``) against the session broker."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    Message,
    Producer,
    TopicPartition,
)

from fleet.config import KafkaSettings
from fleet.deadletter import header_map
from fleet.telemetry import encode_event
from hot_path.events import decode_alert
from hot_path.score import consume_alerts
from simulator.realism import corrupt
from tests.unit.hot_path.readings import OTHER_VIN, VIN, reading
from tests.utils.hot_path import running_worker, wait_for_commits
from tests.utils.hot_path import worker_env as hot_worker_env
from tests.utils.kafka import produce_all, unique

PARTITIONS = 3


def stream() -> list[tuple[bytes, bytes]]:
    """Two cars for 200 s; one shows a trouble code from 20 s to 80 s; one broken record."""
    records = []
    for s in range(200):
        codes = ("P0420",) if 20 <= s < 80 else None
        records.append((VIN.encode(), encode_event(reading(s, dtcs=codes))))
        records.append((OTHER_VIN.encode(), encode_event(reading(s, vin=OTHER_VIN))))
        if s == 100:
            broken = corrupt(encode_event(reading(s, vin=OTHER_VIN, seq=10_000)), "wrong_type")
            records.append((OTHER_VIN.encode(), broken))
    return records


@pytest.fixture
def worker_env(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> dict[str, str]:
    base = {**os.environ, "DATA_DIR": str(tmp_path / "data")}
    return hot_worker_env(base, kafka_bootstrap, new_topic, tmp_path / "hot_path", PARTITIONS)


@pytest.fixture
def worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with running_worker(worker_env, tmp_path / "worker.log") as proc:
        yield proc


def wait_until_consumed(
    watcher: Consumer, topic: str, worker: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    """Until the worker's group (``watcher``'s group, never joined) has committed every end."""
    wanted = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    wait_for_commits(watcher, wanted, worker, log, timeout)


def drain(consumer: Consumer, topic: str, partitions: int) -> list[Message]:
    """Everything on ``topic`` up to its current end."""
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    ends = {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in range(partitions)
    }
    got: list[Message] = []
    deadline = time.monotonic() + 30
    while sum(ends.values()) > len(got) and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is not None and msg.error() is None:
            got.append(msg)
    return got


def test_a_worker_alerts_on_a_fault_and_dead_letters_a_broken_record(
    worker_env: dict[str, str],
    worker: subprocess.Popen[bytes],
    producer: Producer,
    make_consumer: Callable[..., Consumer],
    kafka_settings: KafkaSettings,
    tmp_path: Path,
) -> None:
    env = worker_env
    produce_all(producer, env["HOT_TELEMETRY_TOPIC"], stream())
    watcher = make_consumer(env["HOT_APP_ID"])
    wait_until_consumed(watcher, env["HOT_TELEMETRY_TOPIC"], worker, tmp_path / "worker.log")
    # On the default loop, uvloop: Faust picks its loop when first imported, and a
    # setting read too late once left every worker on asyncio's (uvloop is only
    # loaded when chosen).
    assert "/uvloop/loop." in Path(f"/proc/{worker.pid}/maps").read_text()

    reader = make_consumer(unique("reader"))
    alerts = [decode_alert(m.value()) for m in drain(reader, env["HOT_ALERTS_TOPIC"], PARTITIONS)]
    assert [(a.vin, str(a.kind), str(a.status)) for a in alerts] == [
        (VIN, "dtc_active", "opened"),
        (VIN, "dtc_active", "resolved"),
    ]
    opened, resolved = alerts
    assert opened.alert_id == resolved.alert_id
    assert opened.evidence_time == reading(25).event_time  # confirmed after 5 s
    assert resolved.evidence_time == reading(140).event_time  # clear for 60 s from 80 s
    assert opened.detail == {"codes": "P0420"}
    # `python -m hot_path score` reads the same alerts back from the topic.
    assert consume_alerts(env["HOT_ALERTS_TOPIC"], kafka_settings) == alerts

    dead = drain(make_consumer(unique("dlq")), env["HOT_DEAD_LETTER_TOPIC"], 1)
    assert len(dead) == 1
    headers = header_map(dead[0].headers())
    assert headers["source"] == "hot-path" and headers["reason"] == "wrong_type"
    assert headers["topic"] == env["HOT_TELEMETRY_TOPIC"]
    assert dead[0].key() == OTHER_VIN.encode()
