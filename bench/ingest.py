"""Ingest throughput: the HTTP gateway and the MQTT bridge beside a direct producer.

`bench_ingest` replays the same records three ways against one broker, each
into a fresh topic: the platform producer straight to Kafka; the gateway
(``python -m ingest serve``, batches of ``batch_size`` per car, ``http_concurrency``
cars posting at once, each request answered after Kafka acknowledged it);
and Mosquitto + the bridge (one MQTT connection per car, QoS 1, timed until
every record is in Kafka). Each car is one MQTT connection with its own
thread, so pass records of at most about a hundred cars.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import psutil
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from fleet.config import KafkaSettings
from infra import mqtt
from ingest.client import HttpTransport, MqttTransport, issue_credentials
from simulator.transport import KafkaTransport

log = logging.getLogger(__name__)
Record = tuple[bytes, bytes]


@dataclass(frozen=True)
class IngestMeasurement:
    name: str
    records: int
    seconds: float
    server_cpu_s: float = 0.0
    """CPU time the gateway or bridge process used meanwhile (user + system)."""

    @property
    def rate(self) -> float:
        return self.records / self.seconds


@dataclass(frozen=True)
class IngestBench:
    direct: IngestMeasurement
    http: IngestMeasurement
    mqtt: IngestMeasurement
    cars: int
    batch_size: int
    http_concurrency: int

    def ratios(self) -> dict[str, float]:
        """Each ingest path's rate as a fraction of the direct producer's."""
        return {m.name: m.rate / self.direct.rate for m in (self.http, self.mqtt)}

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(path, records/s, ratio to direct, CPU cores the ingest process used) for a table."""
        ratios = {self.direct.name: 1.0, **self.ratios()}
        return [
            (m.name, f"{m.rate:,.0f}", f"{ratios[m.name]:.2f}",
             f"{m.server_cpu_s / m.seconds:.2f}" if m.server_cpu_s else "-")
            for m in (self.direct, self.http, self.mqtt)
        ]  # fmt: skip


def bench_ingest(
    bootstrap: str,
    records: Sequence[Record],
    *,
    workdir: Path,
    partitions: int = 12,
    batch_size: int = 100,
    http_concurrency: int = 8,
) -> IngestBench:
    """Measure the three paths with ``records`` (``(VIN, JSON)`` pairs); scratch state in
    ``workdir``; Mosquitto and the gateway on free ports, stopped before returning."""
    kafka = KafkaSettings(bootstrap_servers=bootstrap, client_id="bench-ingest")
    names = {k: f"bench.ingest.{k}.{uuid.uuid4().hex[:8]}" for k in ("direct", "http", "mqtt")}
    dlq = f"bench.ingest.dlq.{uuid.uuid4().hex[:8]}"
    _create_topics(kafka, [*names.values(), dlq], partitions)
    vins = sorted({key.decode() for key, _ in records})

    direct = _direct(kafka, names["direct"], records)
    tokens = issue_credentials(vins, workdir)
    broker, _ = mqtt.up(workdir, mqtt.MqttSettings(port=_free_port()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "INGEST_"))}
    env.update(DATA_DIR=str(workdir), KAFKA_BOOTSTRAP_SERVERS=bootstrap,
               INGEST_DEAD_LETTER_TOPIC=dlq, INGEST_BRIDGE_METRICS_PORT="0",
               INGEST_MQTT_PORT=str(broker.port))  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    try:
        port = _free_port()
        gw_env = {**env, "INGEST_PORT": str(port), "INGEST_TELEMETRY_TOPIC": names["http"]}
        procs.append(_start("serve", gw_env, workdir / "gateway.log"))
        url = f"http://127.0.0.1:{port}"
        _wait(lambda: _ready(url), procs[-1], "the gateway")
        cpu = _cpu(procs[-1])
        http = _http(url, tokens, records, batch_size, http_concurrency)
        http = replace(http, server_cpu_s=_cpu(procs[-1]) - cpu)

        br_env = {**env, "INGEST_TELEMETRY_TOPIC": names["mqtt"]}
        procs.append(_start("mqtt-bridge", br_env, workdir / "bridge.log"))
        _wait(lambda: "subscribed" in (workdir / "bridge.log").read_text(), procs[-1], "the bridge")
        cpu = _cpu(procs[-1])
        over_mqtt = _mqtt(kafka, names["mqtt"], dlq, tokens, records, broker.port)
        over_mqtt = replace(over_mqtt, server_cpu_s=_cpu(procs[-1]) - cpu)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        mqtt.down(workdir)
    return IngestBench(direct, http, over_mqtt, len(vins), batch_size, http_concurrency)


def _direct(kafka: KafkaSettings, topic: str, records: Sequence[Record]) -> IngestMeasurement:
    """The simulator's own Kafka transport sending the same records: the reference."""
    transport = KafkaTransport(topic, kafka)
    # A fresh producer first waits for its idempotence id (about a second on a
    # new broker); the gateway and the bridge pay that before they report ready.
    transport.send(records[:1])
    transport.flush(30)
    started = time.perf_counter()
    transport.send(records[1:])
    if transport.flush(60):
        raise RuntimeError("the simulator's producer left records unacknowledged")
    seconds = time.perf_counter() - started
    transport.close()
    return IngestMeasurement("simulator -> Kafka directly", len(records) - 1, seconds)


def _http(
    url: str, tokens: dict[str, str], records: Sequence[Record], batch: int, workers: int
) -> IngestMeasurement:
    per_car: dict[bytes, list[Record]] = defaultdict(list)
    for record in records:
        per_car[record[0]].append(record)
    shares: list[list[Record]] = [[] for _ in range(workers)]
    for i, car in enumerate(per_car.values()):
        shares[i % workers].extend(car)

    def post_share(share: list[Record]) -> int:
        transport = HttpTransport(url, tokens, batch_size=batch)
        transport.send(share)
        transport.close()
        return transport.acked

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        acked = sum(pool.map(post_share, shares))
    seconds = time.perf_counter() - started
    if acked != len(records):
        raise RuntimeError(f"the gateway acknowledged {acked} of {len(records)} records")
    return IngestMeasurement(f"HTTP gateway ({batch}/request)", len(records), seconds)


def _mqtt(
    kafka: KafkaSettings, topic: str, dlq: str, tokens: dict[str, str],
    records: Sequence[Record], port: int,
) -> IngestMeasurement:  # fmt: skip
    transport = MqttTransport(tokens, port=port)
    transport.connect(tokens)
    consumer = Consumer(kafka.consumer_config("bench-ingest-watermarks"))
    try:
        started = time.perf_counter()
        transport.send(records)
        deadline = time.monotonic() + 300
        while _count(consumer, topic) + _count(consumer, dlq) < len(records):
            if time.monotonic() > deadline:
                raise RuntimeError("the bridge did not bring every record into Kafka in 300s")
            time.sleep(0.02)
        seconds = time.perf_counter() - started
    finally:
        consumer.close()
        transport.close()
    return IngestMeasurement("MQTT bridge (QoS 1)", len(records), seconds)


def _count(consumer: Consumer, topic: str) -> int:
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    return sum(
        consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in meta.partitions
    )


def _create_topics(kafka: KafkaSettings, names: list[str], partitions: int) -> None:
    admin = AdminClient(kafka.admin_config())
    futures = admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    for future in futures.values():
        future.result(30)


def _start(command: str, env: dict[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    with log_file.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ingest", command], env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip


def _wait(ready: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start; see its log in the bench work dir")
        time.sleep(0.1)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _cpu(proc: subprocess.Popen[bytes]) -> float:
    times = psutil.Process(proc.pid).cpu_times()
    return float(times.user + times.system)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
