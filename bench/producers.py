"""The producers compared: Kafka's Java tool, a bare Python loop, the simulator."""

from __future__ import annotations

import logging
import math
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from fleet.config import KafkaSettings
from infra import jars
from infra.config import InfraSettings
from simulator.config import SEEDED_START
from simulator.generator import Simulation
from simulator.runner import run
from simulator.transport import FileTransport, KafkaTransport

Record = tuple[bytes, bytes]


@dataclass(frozen=True)
class Measurement:
    name: str
    records: int
    seconds: float
    bytes: int
    acked: int

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e6


@dataclass(frozen=True)
class Settings:
    """The producer settings every contender uses."""

    linger_ms: int = 5
    batch_size: int = 262_144
    compression: str = "lz4"

    def librdkafka(self) -> dict[str, Any]:
        return {
            "linger.ms": self.linger_ms,
            "batch.size": self.batch_size,
            "compression.type": self.compression,
        }


def fleet_simulation(cars: int, seconds: float) -> Simulation:
    """The benchmark's fleet: 1 Hz, so each physics step serves one record per car."""
    return Simulation(
        cars=cars, hz=1.0, duration_s=seconds, start=SEEDED_START, seed=7, fault_rate=0.05
    )


def sample_records(cars: int, count: int) -> list[Record]:
    """The first ``count`` records of the benchmark fleet, to replay verbatim."""
    out: list[Record] = []
    for batch in fleet_simulation(cars, 3600):
        out.extend(batch.records)
        if len(out) >= count:
            break
    return out[:count]


def generation_only(cars: int, seconds: float) -> Measurement:
    """Physics, faults and JSON, written to /dev/null through the same loop."""
    sim = fleet_simulation(cars, seconds)
    result = run(sim, FileTransport(Path("/dev/null")), speedup=math.inf, stop=threading.Event())
    return Measurement(
        "simulator, generation only", result.sent, result.wall_s, result.bytes_sent, result.acked
    )


def simulator_to_kafka(
    bootstrap: str, topic: str, cars: int, seconds: float, settings: Settings
) -> Measurement:
    sim = fleet_simulation(cars, seconds)
    kafka = KafkaSettings(bootstrap_servers=bootstrap, client_id="bench-simulator")
    transport = KafkaTransport(topic, kafka, **settings.librdkafka())
    transport.check()
    result = run(sim, transport, speedup=math.inf, stop=threading.Event())
    return Measurement(
        "simulator -> Kafka", result.sent, result.wall_s, result.bytes_sent, result.acked
    )


def bare_loop(
    bootstrap: str, topic: str, records: int, sample: list[Record], settings: Settings
) -> Measurement:
    """confluent-kafka replaying ready-made simulator records: the client's own ceiling."""
    conf = KafkaSettings(bootstrap_servers=bootstrap, client_id="bench-bare").producer_config(
        logger=logging.getLogger(__name__), **settings.librdkafka()
    )
    producer = Producer(conf)
    acked = size = 0

    def done(err: KafkaError | None, msg: Message) -> None:
        nonlocal acked
        acked += err is None

    began = time.monotonic()
    for i in range(records):
        key, value = sample[i % len(sample)]
        size += len(value)
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=done)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(60)
    elapsed = time.monotonic() - began
    return Measurement("bare confluent-kafka loop, same records", records, elapsed, size, acked)


_SUMMARY = re.compile(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)")


def java_tool(
    bootstrap: str,
    topic: str,
    records: int,
    settings: Settings,
    *,
    size: int | None = None,
    payloads: Path | None = None,
) -> Measurement:
    """org.apache.kafka.tools.ProducerPerformance from the jars infra resolved.

    With ``payloads`` (newline-separated simulator records) it sends those very
    bytes, so compression sees the same data; with ``size``, random letters.
    """
    infra = InfraSettings()
    if payloads is not None:
        source = ["--payload-file", str(payloads), "--payload-delimiter", "\\n"]
        lines = payloads.read_bytes().split(b"\n")
        mean = sum(map(len, lines)) / len(lines)
        name = "Kafka ProducerPerformance (Java), same records"
    else:
        size = size or 300
        source, mean = ["--record-size", str(size)], float(size)
        name = f"Kafka ProducerPerformance (Java), {size} B random"
    command = [
        str(jars.find_java(infra)), "-Xmx512m", "-cp", f"{infra.kafka_libs_dir}/*",
        "org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
        "--num-records", str(records), *source, "--throughput", "-1",
        "--producer-props", f"bootstrap.servers={bootstrap}", "acks=all",
        "enable.idempotence=true", f"linger.ms={settings.linger_ms}",
        f"batch.size={settings.batch_size}", f"compression.type={settings.compression}",
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True).stdout
    sent, rate, _ = _SUMMARY.findall(out)[-1]
    return Measurement(name, int(sent), int(sent) / float(rate), round(int(sent) * mean), int(sent))
