"""The simulator against a real broker: everything sent arrives, keyed and in order per car."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer

from fleet.telemetry import decode_event
from simulator.__main__ import main
from tests.utils.kafka import consume

PARTITIONS = 12


def murmur2_partition(key: bytes, partitions: int) -> int:
    """The Java client's default partitioner (Utils.murmur2, positive, modulo)."""
    m, r, length = 0x5BD1E995, 24, len(key)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(key[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = length % 4
    if tail:
        h ^= int.from_bytes(key[length - tail :], "little")
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


def test_short_run_arrives_complete_keyed_and_in_order(
    kafka_bootstrap: str,
    new_topic: Callable[..., str],
    make_consumer: Callable[..., Consumer],
    group_id: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = new_topic(PARTITIONS)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    args = ["--cars", "25", "--hz", "1", "--duration", "40", "--speedup", "max", "--seed", "4",
            "--fault-rate", "0", "--topic", topic, "--truth-out", str(tmp_path),
            "--no-progress"]  # fmt: skip
    assert main(args) == 0
    run = orjson.loads((tmp_path / "run.json").read_bytes())
    expected = 25 * 40
    assert run["records_sent"] == run["records_acknowledged"] == expected

    consumer = make_consumer(group_id("simulator"))
    consumer.subscribe([topic])
    (messages,) = consume([consumer], expected, timeout=60)
    assert len(messages) == expected

    partitions: dict[bytes, set[int]] = defaultdict(set)
    seqs: dict[bytes, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for msg in sorted(messages, key=lambda m: (m.partition(), m.offset())):
        key, event = msg.key(), decode_event(msg.value())
        assert key == event.key
        partitions[key].add(msg.partition())
        seqs[key][msg.partition()].append(event.seq)
    assert len(partitions) == 25
    for key, where in partitions.items():
        assert where == {murmur2_partition(key, PARTITIONS)}, "a car's records share a partition"
        (order,) = seqs[key].values()
        assert order == list(range(40)), "a car's records arrive in the order it sent them"


def test_a_broker_that_dies_mid_run_ends_the_run_in_error_with_the_count(tmp_path):
    """The simulator keeps retrying, reports what Kafka never acknowledged, exits 1."""
    import subprocess
    import sys
    import threading

    from fleet.topics import TELEMETRY
    from infra import cluster
    from infra.ports import free_port_base

    data = tmp_path / "kafka"
    try:
        up = cluster.up(data, 1, port_base=free_port_base(1))
        sim = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--cars", "50", "--hz", "1", "--duration", "12",
             "--speedup", "1", "--seed", "5", "--topic", TELEMETRY, "--no-progress",
             "--flush-timeout", "3"],
            env={"KAFKA_BOOTSTRAP_SERVERS": up.record.bootstrap_servers, "PATH": "/usr/bin:/bin"},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        killer = threading.Timer(3.0, lambda: cluster.down(data, settings=None))
        killer.start()
        out, err = sim.communicate(timeout=120)
        killer.join()
    finally:
        cluster.down(data, wipe=True)
    assert sim.returncode == 1, err
    assert "records were not acknowledged" in err
    assert "Traceback" not in err
