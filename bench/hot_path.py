"""Hot-path benchmark: the full worker against an empty Faust agent and a bare aiokafka loop.

All three read the same simulator records from one topic of a scratch
broker, each in its own consumer group from the beginning, one after the
other in the same run. The two Faust contenders run as worker processes and
are timed from the outside, on their Prometheus counters, between 5 % and
95 % of the records (start-up and the tail are not throughput). Then the
full worker, caught up, gets ``paced_rate`` records a second in which cars
begin reporting a trouble code; the latency of each alert is its timestamp
on the alerts topic minus the Kafka timestamp of the record that decided it.

``python -m bench.hot_path`` prints the figures; ``python -m bench.hot_path
empty-agent`` is the empty agent's worker (the benchmark starts it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from bench.broker import create_topic, scratch_broker
from bench.producers import sample_records
from fleet.telemetry import decode_event, encode_event, new_event
from fleet.vin import with_check_digit
from hot_path.events import AlertStatus, decode_alert

PARTITIONS = 12
log = logging.getLogger(__name__)
COUNTER = "hot_path_events"


@dataclass
class HotPathBench:
    records: int
    bare_rate: float
    empty_rate: dict[str, float] = field(default_factory=dict)  # event loop -> records/s
    full_rate: dict[str, float] = field(default_factory=dict)
    paced_rate: float = 0.0
    alerts: int = 0
    latency_p50_s: float | None = None
    latency_p99_s: float | None = None

    def rows(self) -> list[tuple[str, str, str]]:
        """(contender, records/s, ratio) rows; Faust ratios are to the empty agent."""
        out = [("bare aiokafka + json.loads", f"{self.bare_rate:,.0f}", "")]
        for loop, rate in self.empty_rate.items():
            out.append((f"empty Faust agent ({loop})", f"{rate:,.0f}",
                        f"{rate / self.bare_rate:.2f} of bare"))  # fmt: skip
        for loop, rate in self.full_rate.items():
            empty = self.empty_rate.get(loop)
            ratio = f"{rate / empty:.2f} of empty" if empty else ""
            out.append((f"hot-path worker, every rule and view ({loop})", f"{rate:,.0f}", ratio))
        return out


def bench_hot_path(
    *,
    records: int = 40_000,
    cars: int = 2000,
    paced_rate: float = 5000.0,
    paced_seconds: float = 20.0,
    loops: tuple[str, ...] = ("aio", "uvloop"),
) -> HotPathBench:
    """Run every contender against one scratch broker; about three minutes."""
    sample = sample_records(cars, records)
    with tempfile.TemporaryDirectory(prefix="fleet-bench-hot-") as tmp, scratch_broker() as boot:
        topic = create_topic(boot, "bench.telemetry", PARTITIONS)
        _produce(boot, topic, sample)
        result = HotPathBench(len(sample), asyncio.run(_bare(boot, topic, len(sample))))
        for loop in loops:
            with _worker(boot, topic, Path(tmp), empty=True, loop=loop) as (proc, port):
                result.empty_rate[loop] = _rate(proc, port, len(sample))
        for i, loop in enumerate(loops):
            last = i == len(loops) - 1
            with _worker(boot, topic, Path(tmp), empty=False, loop=loop) as (proc, port):
                result.full_rate[loop] = _rate(proc, port, len(sample))
                if last and paced_seconds > 0:
                    ends = max(decode_event(v).event_time for _, v in sample[-cars:])
                    _paced(result, boot, topic, proc.alerts, ends, paced_rate, paced_seconds)
    return result


def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all",
                         "partitioner": "murmur2_random", "compression.type": "lz4"})  # fmt: skip
    for key, value in records:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    producer.flush(60)


async def _bare(bootstrap: str, topic: str, total: int) -> float:
    from aiokafka import AIOKafkaConsumer
    from aiokafka import TopicPartition as AioTP

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([AioTP(topic, p) for p in range(PARTITIONS)])
        await consumer.seek_to_beginning()
        seen, start = 0, time.perf_counter()
        while seen < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for msgs in batches.values():
                for msg in msgs:
                    json.loads(msg.value)
                seen += len(msgs)
        return total / (time.perf_counter() - start)
    finally:
        await consumer.stop()


class _worker:
    """A Faust worker process on ``topic`` in a group of its own, with its metrics port."""

    def __init__(self, bootstrap: str, topic: str, tmp: Path, *, empty: bool, loop: str) -> None:
        self.port = _free_port()
        name = f"bench-{'empty' if empty else 'hot'}-{uuid.uuid4().hex[:8]}"
        self.alerts = create_topic(bootstrap, f"{name}.alerts", PARTITIONS)
        self.env = {
            **os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATA_DIR": str(tmp / name),
            "DATABASE_URL": f"sqlite:///{tmp / name}.db", "HOT_APP_ID": name,
            "HOT_TELEMETRY_TOPIC": topic, "HOT_ALERTS_TOPIC": self.alerts,
            "HOT_DEAD_LETTER_TOPIC": f"{name}.dlq", "HOT_WEB_ENABLED": "false",
            "HOT_METRICS_PORT": str(self.port), "HOT_LOG_LEVEL": "warn", "HOT_LOOP": loop,
            "HOT_REPLICATION_FACTOR": "1", "TOPIC_TELEMETRY_PARTITIONS": str(PARTITIONS),
        }  # fmt: skip
        module = ["bench.hot_path", "empty-agent"] if empty else ["hot_path", "worker"]
        self.log = (tmp / f"{name}.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", *module], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip

    def __enter__(self) -> tuple[_worker, int]:
        return self, self.port

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _count(port: int) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return 0.0
    return sum(s.value for fam in text_string_to_metric_families(text) if fam.name == COUNTER
               for s in fam.samples if s.name.endswith("_total"))  # fmt: skip


def _rate(worker: _worker, port: int, total: int, timeout: float = 300.0) -> float:
    """Records/s between 5 % and 95 % of ``total``, read off the worker's counter."""
    low = high = None
    deadline = time.monotonic() + timeout
    while high is None and time.monotonic() < deadline:
        if worker.proc.poll() is not None:
            raise RuntimeError(f"worker exited:\n{Path(worker.log.name).read_text()[-3000:]}")
        n, now = _count(port), time.perf_counter()
        log.debug("%s: %d of %d", worker.env["HOT_APP_ID"], n, total)
        if low is None and n >= 0.05 * total:
            low = (now, n)
        elif low is not None and n >= 0.95 * total:
            high = (now, n)
        time.sleep(0.05)
    if low is None or high is None:
        tail = Path(worker.log.name).read_text()[-3000:]
        raise RuntimeError(f"worker did not finish in {timeout:.0f} s:\n{tail}")
    return (high[1] - low[1]) / (high[0] - low[0])


def _paced(
    result: HotPathBench, boot: str, topic: str, alerts: str, after: datetime, rate: float,
    seconds: float,
) -> None:  # fmt: skip
    """Cars that start a trouble code at staggered times; alert latency per opened alert."""
    cars, span = int(rate), int(seconds)  # one reading a second per car
    vins = [with_check_digit(f"WBENCH0{i:010d}") for i in range(cars)]
    stamps: dict[tuple[str, datetime], int] = {}
    producer = Producer({"bootstrap.servers": boot, "linger.ms": 5, "acks": "all"})
    start = time.perf_counter()
    for second in range(span):
        at = after + timedelta(seconds=1 + second)
        for i, vin in enumerate(vins):
            codes = ("P0420",) if second >= 1 + i % max(span - 7, 1) else None
            ev = new_event(vin=vin, seq=second, event_time=at, speed=50.0,
                           odometer=1000.0 + second / 72, dtcs=codes)  # fmt: skip

            def sent(err: Any, msg: Any, key: tuple[str, datetime] = (vin, at)) -> None:
                if err is None:
                    stamps[key] = msg.timestamp()[1]

            producer.produce(topic, encode_event(ev), vin.encode(), on_delivery=sent)
            if i % 50 == 0:  # slices of 10 ms at 5,000/s
                producer.poll(0)
                ahead = start + second + i / rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
    producer.flush(30)
    result.paced_rate = cars * span / (time.perf_counter() - start)
    latencies = _alert_latencies(boot, alerts, stamps)
    result.alerts = len(latencies)
    if latencies:
        latencies.sort()
        result.latency_p50_s = latencies[len(latencies) // 2]
        result.latency_p99_s = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]


def _alert_latencies(
    boot: str, alerts: str, stamps: dict[tuple[str, datetime], int], wait_s: float = 20.0
) -> list[float]:
    """Seconds from the deciding record's Kafka timestamp to the opened alert's."""
    consumer = Consumer({"bootstrap.servers": boot, "group.id": f"bench-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(alerts, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    wanted = sum(1 for vin, _ in stamps if vin.startswith("WBENCH"))
    out: list[float] = []
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline and len(out) < wanted:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            alert = decode_alert(msg.value())
            sent = stamps.get((alert.vin, alert.evidence_time))
            if alert.status is AlertStatus.OPENED and sent is not None:
                out.append((msg.timestamp()[1] - sent) / 1000.0)
    finally:
        consumer.close()
    return out


def empty_agent() -> None:
    """A Faust worker whose one agent only counts the records (the benchmark's yardstick)."""
    import faust
    from prometheus_client import Counter, start_http_server

    from hot_path.app import broker_urls
    from hot_path.config import HotPathSettings

    settings = HotPathSettings()
    counted = Counter(COUNTER, "Records the empty agent counted.", ["outcome"])
    app = faust.App(settings.app_id, broker=broker_urls(os.environ["KAFKA_BOOTSTRAP_SERVERS"]),
                    store="memory://", topic_partitions=PARTITIONS, topic_replication_factor=1,
                    consumer_auto_offset_reset="earliest", web_enabled=False)  # fmt: skip
    topic = app.topic(settings.telemetry_topic, key_serializer="raw", value_serializer="raw")

    @app.agent(topic)
    async def count(stream: Any) -> None:
        processed = counted.labels("processed")
        async for _event in stream.events():
            processed.inc()

    start_http_server(settings.metrics_port, addr="127.0.0.1")
    sys.argv = ["bench", "--loop", settings.loop, "worker", "--loglevel", "warn", "--without-web"]
    app.main()


def main() -> int:
    if sys.argv[1:2] == ["empty-agent"]:
        empty_agent()
        return 0
    from rich.console import Console

    rate = float(sys.argv[1]) if sys.argv[1:] else 5000.0
    console, r = Console(), bench_hot_path(paced_rate=rate)
    for name, rate, ratio in r.rows():
        console.print(f"{name:48s} {rate:>10s} records/s  {ratio}")
    console.print(f"paced at {r.paced_rate:,.0f}/s: {r.alerts} alerts, latency p50 "
                  f"{r.latency_p50_s} s, p99 {r.latency_p99_s} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
