"""Hot-path benchmark: the full worker against an empty Faust agent and a bare aiokafka loop.

All contenders read the same simulator records from topics of one scratch
broker, each in its own consumer group, one after the other in the same run:

- a bare aiokafka consumer that only runs ``json.loads`` (the Kafka ceiling);
- per event loop, an empty Faust agent that only counts, and the full worker
  (every rule, the state tables, and its speed-view writer process), both
  reading the backlog of one topic from the beginning, one right after the
  other (in turn the one or the other first), ``rounds`` times over; the
  ratio full / empty of each round is the cost of the hot path itself, and
  the median over the rounds is the figure (the machine's speed moves single
  runs by a fifth or more, and five rounds' median moves less). CPU time per
  record is read off ``/proc`` for the worker and, apart, its writer;
- on the worker's loop (the last), a third contender in the same rounds: the
  empty agent with the worker's inline delivery (`hot_path.delivery`), so
  that full / that agent is what the rules and state cost, apart from the
  Faust machinery the worker trims;
- one worker and two workers in one group (in turn one or two first), each
  started on an empty topic and given the same records once every worker
  owns its partitions (so the rebalance is not in the window),
  ``scale_rounds`` times over, on ``scale_records`` records (more than the
  other stages: two workers read 80,000 in 2-3 s); the median of the
  rounds' ratios is the scale-out. Each round also reports the cores the
  workers used and how long their threads waited for a core (the
  scheduler's ``schedstat``): on a machine with as many cores as workers
  that wait, not the software, is what holds two workers back;
- the full worker, caught up, at ``paced_rate`` records a second: the same
  cars report for ``PACED_WARM_S`` seconds without a fault (a fleet that has
  been reporting for a while, on a broker whose JIT compiler is done), then
  begin reporting a trouble code: the latency of each opened alert is
  its timestamp on the alerts topic minus the Kafka timestamp of the record
  that decided it, and the time until the alert is a row of ``speed_alerts``
  in the worker's serving store (polled every 50 ms) minus the same timestamp.

Faust contenders run as worker processes and are timed from the outside, on
their Prometheus counters read every ``POLL_S``, between 5 % and 95 % of the
records (`_pool_run`). Everything a
worker writes (state, serving store, logs) is under one temporary directory.
``python -m bench.hot_path [RATE]`` prints the figures, ``python -m
bench.hot_path paced RATE [aio|uvloop]`` only the paced stage (30 s after the
warm-up; uvloop, the worker's default, unless named);
``python -m bench.hot_path empty-agent`` is the empty agent's worker (the
benchmark starts it).
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
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import ColumnElement, literal_column, select

from bench.broker import create_topic, scratch_broker
from bench.producers import sample_records
from fleet.store import connect, speed_alerts
from fleet.telemetry import decode_event, encode_event, new_event
from fleet.vin import with_check_digit
from hot_path.events import AlertStatus, decode_alert

PARTITIONS = 12
log = logging.getLogger(__name__)
COUNTER = "hot_path_events"
PACED_WARM_S = 20.0
"""Seconds of the paced load, without faults, before the paced figures are taken."""
WRITER_COUNTER = "hot_path_speed_records"


@dataclass(frozen=True)
class Run:
    """One contender over one backlog: records/s and CPU microseconds a record."""

    rate: float
    cpu_us: float
    writer_cpu_us: float = 0.0  # the worker's speed-view writer (its child process)


@dataclass
class HotPathBench:
    records: int
    bare_rate: float
    empty_runs: dict[str, list[Run]] = field(default_factory=dict)  # event loop -> rounds
    full_runs: dict[str, list[Run]] = field(default_factory=dict)
    inline_runs: dict[str, list[Run]] = field(default_factory=dict)
    """The empty agent delivering as the worker does (`hot_path.delivery`), per loop."""
    scale_runs: list[tuple[PoolRun, PoolRun]] = field(default_factory=list)
    """Per round: one worker and two in one group (in turn one or two first), on fresh topics."""
    scale_records: int = 0
    scale_loop: str = ""
    paced_rate: float = 0.0
    alerts: int = 0
    latency_p50_s: float | None = None
    latency_p99_s: float | None = None
    view_alerts: int = 0
    view_p50_s: float | None = None
    view_p99_s: float | None = None
    paced_error: str = ""
    paced_worker_cores: float = 0.0
    """CPU the worker used while the paced records were produced, in cores."""
    paced_machine_cores: float = 0.0
    """The whole machine's busy CPU meanwhile, in cores (of 2 here)."""
    paced_writer_cores: float = 0.0
    paced_generator_cores: float = 0.0
    """This process: the paced producer and its delivery callbacks, the view watcher."""
    paced_broker_cores: float = 0.0
    """The machine's Java processes: the scratch broker."""

    @property
    def empty_rate(self) -> dict[str, float]:
        return {loop: median(r.rate for r in runs) for loop, runs in self.empty_runs.items()}

    @property
    def full_rate(self) -> dict[str, float]:
        return {loop: median(r.rate for r in runs) for loop, runs in self.full_runs.items()}

    def ratios(self, loop: str, *, inline: bool = False) -> list[float]:
        """Full worker / empty agent of each round (they ran back to back).

        ``inline``: against the empty agent that delivers as the worker does.
        """
        empties = (self.inline_runs if inline else self.empty_runs).get(loop, [])
        pairs = zip(self.full_runs.get(loop, []), empties, strict=False)
        return [full.rate / empty.rate for full, empty in pairs]

    def scale_ratios(self) -> list[float]:
        """Two workers / one of each round (the two ran back to back)."""
        return [two.rate / one.rate for one, two in self.scale_runs]

    def rows(self) -> list[tuple[str, str, str]]:
        """(contender, figure, ratio) rows; Faust ratios are to the empty agent on its loop."""
        out = [("bare aiokafka + json.loads", f"{self.bare_rate:,.0f}", "")]
        for loop, runs in self.empty_runs.items():
            rate = median(r.rate for r in runs)
            cpu = median(r.cpu_us for r in runs)
            note = f"{rate / self.bare_rate:.2f} of bare; {cpu:.0f} us CPU a record"
            out.append((f"empty Faust agent ({loop}), median of {len(runs)}", f"{rate:,.0f}", note))
        for loop, runs in self.inline_runs.items():
            rate = median(r.rate for r in runs)
            cpu = median(r.cpu_us for r in runs)
            note = f"{rate / self.bare_rate:.2f} of bare; {cpu:.0f} us CPU a record"
            name = (
                f"empty Faust agent, the worker's inline delivery ({loop}), median of {len(runs)}"
            )
            out.append((name, f"{rate:,.0f}", note))
        for loop, runs in self.full_runs.items():
            rate = median(r.rate for r in runs)
            ratios = self.ratios(loop)
            spread = f" ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ""
            ratio = f"{median(ratios):.2f}{spread} of empty, " if ratios else ""
            inline = self.ratios(loop, inline=True)
            if inline:
                spread = f" ({min(inline):.2f}-{max(inline):.2f})" if len(inline) > 1 else ""
                ratio += f"{median(inline):.2f}{spread} of empty inline, "
            cpu = median(r.cpu_us for r in runs)
            writer = median(r.writer_cpu_us for r in runs)
            note = (f"{ratio}{rate / self.bare_rate:.2f} of bare; {cpu:.0f} us CPU a record; "
                    f"its view writer {writer:.0f} us, start included")  # fmt: skip
            name = f"hot-path worker, every rule and view ({loop}), median of {len(runs)}"
            out.append((name, f"{rate:,.0f}", note))
        if self.scale_runs:
            ones, twos = [one for one, _ in self.scale_runs], [two for _, two in self.scale_runs]
            ratios = self.scale_ratios()
            spread = f" ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ""
            rounds = f"median of {len(ratios)}, {self.scale_records:,} records each"
            out.append((f"one worker, records given after it joined ({self.scale_loop}), {rounds}",
                        f"{median(r.rate for r in ones):,.0f}",
                        f"{median(r.cpu_us for r in ones):.0f} us CPU a record; cores: worker "
                        f"{median(r.worker_cores for r in ones):.2f} (waiting for one "
                        f"{median(r.wait_cores for r in ones):.2f}), writer "
                        f"{median(r.writer_cores for r in ones):.2f}, broker "
                        f"{median(r.broker_cores for r in ones):.2f}, machine "
                        f"{median(r.busy_cores for r in ones):.2f} busy"))  # fmt: skip
            out.append((f"two workers in one group ({self.scale_loop}), {rounds}",
                        f"{median(r.rate for r in twos):,.0f}",
                        f"{median(ratios):.2f}{spread} of one; "
                        f"{median(r.cpu_us for r in twos):.0f} us CPU a record; cores: workers "
                        f"{median(r.worker_cores for r in twos):.2f} (waiting for one "
                        f"{median(r.wait_cores for r in twos):.2f}), writers "
                        f"{median(r.writer_cores for r in twos):.2f}, broker "
                        f"{median(r.broker_cores for r in twos):.2f}, machine "
                        f"{median(r.busy_cores for r in twos):.2f} busy"))  # fmt: skip
        if self.paced_error:
            out.append(("paced run", "failed", self.paced_error))
        if self.paced_rate:
            out.append((f"paced {self.paced_rate:,.0f} records/s: alert latency to fleet.alerts",
                        _pct(self.latency_p50_s, self.latency_p99_s),
                        f"{self.alerts} alerts; cores: worker {self.paced_worker_cores:.2f}, "
                        f"its writer {self.paced_writer_cores:.2f}, load generator "
                        f"{self.paced_generator_cores:.2f}, broker "
                        f"{self.paced_broker_cores:.2f}, machine "
                        f"{self.paced_machine_cores:.2f} busy"))  # fmt: skip
            out.append(
                (
                    "paced: latency to the speed view (speed_alerts row)",
                    _pct(self.view_p50_s, self.view_p99_s),
                    f"{self.view_alerts} alerts",
                )
            )
        return out


def _pct(p50: float | None, p99: float | None) -> str:
    if p50 is None or p99 is None:
        return "none seen"
    return f"p50 {p50:.2f} s, p99 {p99:.2f} s"


def _say(message: str) -> None:
    sys.stderr.write(f"  hot path bench: {message}\n")
    sys.stderr.flush()


def bench_hot_path(
    *,
    records: int = 80_000,
    cars: int = 2000,
    paced_rate: float = 5000.0,
    paced_seconds: float = 20.0,
    loops: tuple[str, ...] = ("aio", "uvloop"),
    rounds: int = 5,
    scale_rounds: int = 5,
    scale_records: int = 200_000,
    progress: Callable[[str], None] = _say,
) -> HotPathBench:
    """Run every contender against one scratch broker; a few minutes."""
    progress(f"sampling {records:,} records of {cars:,} cars")
    sample = sample_records(cars, records)
    with tempfile.TemporaryDirectory(prefix="fleet-bench-hot-") as tmp, scratch_broker() as boot:
        work = Path(tmp)
        topic = create_topic(boot, "bench.telemetry", PARTITIONS)
        _produce(boot, topic, sample)
        progress("bare aiokafka consumer")
        result = HotPathBench(len(sample), asyncio.run(_bare(boot, topic, len(sample))))
        contenders = {"empty": ("empty Faust agent", result.empty_runs),
                      "inline": ("empty agent, inline delivery", result.inline_runs),
                      "full": ("full worker", result.full_runs)}  # fmt: skip
        for round_ in range(rounds):
            for loop in loops:
                # Alternately the empty agent first and the full worker first: the machine's
                # speed drifts by a fifth or more within minutes, and neither may always
                # have the later turn. The inline agent, on the worker's loop only, between.
                turns = ["empty", "inline", "full"] if loop == loops[-1] else ["empty", "full"]
                for who in turns if round_ % 2 == 0 else turns[::-1]:
                    what, runs = contenders[who]
                    progress(f"round {round_ + 1} of {rounds}: {what} ({loop})")
                    with _worker(boot, topic, work, empty=who != "full", loop=loop,
                                 inline=who == "inline") as w:  # fmt: skip
                        runs.setdefault(loop, []).append(_run(w, len(sample)))
                empty, full = result.empty_runs[loop][-1], result.full_runs[loop][-1]
                progress(f"  empty {empty.rate:,.0f}/s ({empty.cpu_us:.0f} us a record), full "
                         f"{full.rate:,.0f}/s ({full.cpu_us:.0f} us): "
                         f"{full.rate / empty.rate:.2f}")  # fmt: skip
                if "inline" in turns:
                    inline = result.inline_runs[loop][-1]
                    progress(f"  empty agent inline {inline.rate:,.0f}/s ({inline.cpu_us:.0f} us): "
                             f"full / it {full.rate / inline.rate:.2f}")  # fmt: skip
        loop = loops[-1]  # uvloop, the worker's default (HOT_LOOP)
        if scale_rounds:
            # More records than the throughput rounds: two workers read 80,000 in 2-3 s, a
            # window in which a state flush or a slow second moved a round by a fifth.
            progress(f"sampling {scale_records:,} records of {cars:,} cars for the scale stage")
            scaled = sample_records(cars, scale_records)
            result.scale_loop = loop
            result.scale_records = len(scaled)
            for round_ in range(scale_rounds):
                progress(f"round {round_ + 1} of {scale_rounds}: one worker and two in one "
                         f"group ({loop})")  # fmt: skip
                # Alternately one first and two first: the broker gathers topics as rounds go.
                if round_ % 2:
                    two = _scaled(boot, work, scaled, loop, workers=2)
                    one = _scaled(boot, work, scaled, loop, workers=1)
                else:
                    one = _scaled(boot, work, scaled, loop, workers=1)
                    two = _scaled(boot, work, scaled, loop, workers=2)
                result.scale_runs.append((one, two))
                progress(f"  one {one.rate:,.0f}/s ({one.cpu_us:.0f} us a record, "
                         f"{one.worker_cores:.2f} cores, {one.wait_cores:.2f} waiting for one, "
                         f"{one.window_s:.1f} s), two {two.rate:,.0f}/s ({two.cpu_us:.0f} us, "
                         f"{two.worker_cores:.2f} cores, {two.wait_cores:.2f} waiting, "
                         f"{two.window_s:.1f} s): {two.rate / one.rate:.2f}")  # fmt: skip
        if paced_seconds > 0:
            progress(
                f"paced run at {paced_rate:,.0f} records/s for {paced_seconds:.0f} s after "
                f"{PACED_WARM_S:.0f} s of warm-up ({loop})"
            )
            with _worker(boot, topic, work, empty=False, loop=loop) as w:
                try:
                    _rate([w], len(sample))  # caught up first
                    ends = max(decode_event(v).event_time for _, v in sample[-cars:])
                    _paced(result, boot, topic, w, ends, paced_rate, paced_seconds)
                except RuntimeError as exc:  # keep the throughput figures measured so far
                    result.paced_error = str(exc).splitlines()[0]
                    progress(f"paced run failed: {exc}")
    return result


def _scaled(
    boot: str, work: Path, sample: list[tuple[bytes, bytes]], loop: str, *, workers: int
) -> PoolRun:
    """Records/s of ``workers`` full workers in one group, on a topic filled once all joined."""
    topic = create_topic(boot, f"bench.scale-{uuid.uuid4().hex[:8]}", PARTITIONS)
    group = f"bench-hot-{uuid.uuid4().hex[:8]}"
    create_topic(boot, f"{group}.alerts", PARTITIONS)
    _app_topics(boot, group)
    with ExitStack() as stack:
        pool = [
            stack.enter_context(_worker(boot, topic, work, empty=False, loop=loop, group=group))
            for _ in range(workers)
        ]
        _wait_for_members(boot, group, topic, workers, pool)
        _produce(boot, topic, sample)
        return _pool_run(pool, len(sample))


def _app_topics(boot: str, app_id: str) -> None:
    """The topics Faust makes for a new app (changelogs, leader election), made first.

    A worker of a new app creates them itself, but they reach its consumer's
    metadata seconds after it joined, and that change rebalances the group:
    with the records already there, the timed window would include a
    rebalance (and, for partitions not yet committed, their reading again
    from the start), which is the app's first start, not its throughput.
    """
    for table in ("vehicles", "watermarks"):
        create_topic(boot, f"{app_id}-{table}-changelog", PARTITIONS)
    create_topic(boot, f"{app_id}-__assignor-__leader", 1)


def _wait_for_members(
    boot: str, group: str, topic: str, members: int, pool: list[_worker], timeout: float = 120
) -> None:
    """Until ``members`` members of ``group`` each own partitions of ``topic``."""
    admin = AdminClient({"bootstrap.servers": boot})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for w in pool:
            w.check()
        try:
            desc = admin.describe_consumer_groups([group])[group].result(timeout=10)
        except (KafkaException, TimeoutError):  # coordinator loading or busy, no group yet
            desc = None
        if desc is not None:
            owned = [[tp for tp in m.assignment.topic_partitions if tp.topic == topic]
                     for m in desc.members]  # fmt: skip
            if len(owned) == members and all(owned) and str(desc.state).endswith("STABLE"):
                time.sleep(2.0)  # Faust resumes its streams after recovery
                return
        time.sleep(0.5)
    raise RuntimeError(f"{members} workers did not all join group {group} in {timeout:.0f} s")


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

    def __init__(
        self, bootstrap: str, topic: str, tmp: Path, *, empty: bool, loop: str,
        group: str | None = None, inline: bool = False,
    ) -> None:  # fmt: skip
        self.port, self.empty = _free_port(), empty
        kind = "empty" if empty else "hot"
        name = group or f"bench-{kind}-{uuid.uuid4().hex[:8]}"
        home = tmp / f"{name}-{uuid.uuid4().hex[:6]}"  # state, serving store and log
        home.mkdir()
        self.database = home / "serving.db"
        self.alerts = f"{name}.alerts"
        if group is None:  # a group's workers share the topics `_scaled` made
            create_topic(bootstrap, self.alerts, PARTITIONS)
            if not empty:
                _app_topics(bootstrap, name)
        self.env = {
            **os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATA_DIR": str(home),
            "HOT_DATA_DIR": str(home / "state"), "DATABASE_URL": f"sqlite:///{self.database}",
            "HOT_APP_ID": name, "HOT_TELEMETRY_TOPIC": topic, "HOT_ALERTS_TOPIC": self.alerts,
            "HOT_DEAD_LETTER_TOPIC": f"{name}.dlq", "HOT_WEB_ENABLED": "false",
            "HOT_METRICS_PORT": str(self.port), "HOT_LOG_LEVEL": "warn", "HOT_LOOP": loop,
            "HOT_REPLICATION_FACTOR": "1", "TOPIC_TELEMETRY_PARTITIONS": str(PARTITIONS),
            "BENCH_EMPTY_INLINE": "1" if inline else "0",  # the empty agent's delivery
        }  # fmt: skip
        module = ["bench.hot_path", "empty-agent"] if empty else ["hot_path", "worker"]
        self.log_path = home / "worker.log"
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", *module], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"worker exited:\n{self.log_path.read_text()[-3000:]}")

    def count(self) -> float:
        return _count(self.port)

    def written(self) -> float:
        """Records its speed-view writer has accounted (0 for the empty agent)."""
        return _count(self.port, WRITER_COUNTER)

    def __enter__(self) -> _worker:
        return self

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


def _count(port: int, name: str = COUNTER) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return 0.0
    return sum(s.value for fam in text_string_to_metric_families(text) if fam.name == name
               for s in fam.samples if s.name.endswith("_total"))  # fmt: skip


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ready_s(pid: int) -> float:
    """Seconds the threads of a live process spent ready to run, waiting for a core.

    The scheduler's own count (``/proc/PID/task/TID/schedstat``, second field);
    threads that ended meanwhile drop out, which the workers' few long-lived
    threads do not.
    """
    total = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return 0.0
    for task in tasks:
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):  # gone meanwhile, or no schedstats here
            continue
    return total / 1e9


def _java_cpu_s() -> float:
    """CPU seconds of the machine's Java processes: the scratch broker, unless others run."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "comm").read_text().strip() == "java":
                    total += _cpu_s(int(proc.name))
            except OSError:  # gone meanwhile
                continue
    return total


def _writer_cpu_s(w: _worker) -> float:
    """CPU seconds of the worker's speed-view writer (its child processes)."""
    return sum(_cpu_s(c) for c in _children(w.proc.pid))


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _run(w: _worker, total: int, timeout: float = 300.0) -> Run:
    """`_pool_run` for one worker, with its speed-view writer's CPU apart.

    The writer (a child process) is charged all the CPU it used, its start
    included, until it has written every record: it reads the topic on its
    own and, on a backlog, is often done before Faust's worker has begun.
    """
    deadline = time.monotonic() + timeout
    run = _pool_run([w], total, timeout)
    if w.empty:
        return Run(run.rate, run.cpu_us)
    while w.written() < total:
        w.check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker's view writer did not finish in {timeout:.0f} s:\n"
                               f"{w.log_path.read_text()[-3000:]}")  # fmt: skip
        time.sleep(0.05)
    writer_s = _writer_cpu_s(w)
    return Run(run.rate, run.cpu_us, writer_s / total * 1e6)


def _rate(pool: list[_worker], total: int, timeout: float = 300.0) -> float:
    """Records/s between 5 % and 95 % of ``total``, read off the workers' counters (summed)."""
    return _pool_run(pool, total, timeout).rate


@dataclass(frozen=True)
class PoolRun:
    rate: float
    cpu_us: float
    """The workers' CPU (their writers' not included) per record, summed."""
    busy_cores: float
    """The whole machine's busy CPU over the window, in cores (every process, ours or not)."""
    writer_cores: float = 0.0
    """The workers' speed-view writers over the window, in cores."""
    broker_cores: float = 0.0
    window_s: float = 0.0
    """How long the timed window was."""
    wait_cores: float = 0.0
    """Time the workers' threads were ready to run but waited for a core, in cores."""

    @property
    def worker_cores(self) -> float:
        """The workers' CPU over the window, in cores (their writers' not included)."""
        return self.cpu_us * self.rate / 1e6


def _machine_busy_s() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


POLL_S = 0.2
"""How often the workers' counters are read: a scrape costs a full worker 1.5 ms of CPU."""


def _pool_run(pool: list[_worker], total: int, timeout: float = 300.0) -> PoolRun:
    """`_rate`, with the workers' CPU per record and the machine's busy cores meanwhile.

    The window runs from the first reading at 5 % of ``total`` or more to
    the first at 95 % or more; if that one counted every record, the one
    before it (the workers may have finished up to ``POLL_S`` earlier). Not
    to 100 %: of two workers, one often finishes its partitions first.
    """
    Mark = tuple[float, float, float, float, float, float, float]
    # (time, records, CPU, machine busy, writers' CPU, broker's CPU, the workers' wait for a core)
    marks: list[Mark] = []
    deadline = time.monotonic() + timeout
    while not marks or marks[-1][1] < 0.95 * total:
        if time.monotonic() > deadline:
            tail = pool[0].log_path.read_text()[-3000:]
            raise RuntimeError(f"workers did not finish in {timeout:.0f} s:\n{tail}")
        for w in pool:
            w.check()
        n, now = sum(w.count() for w in pool), time.perf_counter()
        if n >= 0.05 * total:
            marks.append((now, n, sum(_cpu_s(w.proc.pid) for w in pool), _machine_busy_s(),
                          sum(_writer_cpu_s(w) for w in pool),
                          _java_cpu_s(), sum(_ready_s(w.proc.pid) for w in pool)))  # fmt: skip
        time.sleep(POLL_S)
    first, last = marks[0], marks[-1]
    if last[1] >= total:
        last = marks[-2] if len(marks) > 2 else first  # the last reading before all were in
    t0, n0, c0, b0, w0, j0, r0 = first
    t1, n1, c1, b1, w1, j1, r1 = last
    took, n = t1 - t0, max(n1 - n0, 1)
    if took <= 0:
        raise RuntimeError(f"{total:,} records went by within two readings {POLL_S} s apart: "
                           "give the benchmark more records")  # fmt: skip
    return PoolRun(n / took, (c1 - c0) / n * 1e6, (b1 - b0) / took, writer_cores=(w1 - w0) / took,
                   broker_cores=(j1 - j0) / took, window_s=took,
                   wait_cores=(r1 - r0) / took)  # fmt: skip


def _paced(
    result: HotPathBench, boot: str, topic: str, worker: _worker, after: datetime, rate: float,
    seconds: float, warm_s: float = PACED_WARM_S,
) -> None:  # fmt: skip
    """Cars that start a trouble code at staggered times; alert latency per opened alert.

    The same cars report for ``warm_s`` seconds first, without a fault: a
    fleet that has been reporting for a while, not one whose every car is new
    to the worker, on a broker whose JIT compiler has done its work (a fresh
    broker's compiler threads took a quarter of a core for the first half
    minute of this load). Figures are taken over the ``seconds`` after it.
    """
    cars, span, warm = int(rate), int(seconds), int(warm_s)  # one reading a second per car
    vins = [with_check_digit(f"WBENCH0{i:010d}") for i in range(cars)]
    stamps: dict[tuple[str, datetime], int] = {}
    watcher = _ViewWatcher(worker.database)
    watcher.start()
    producer = Producer({"bootstrap.servers": boot, "linger.ms": 5, "acks": "all"})
    # Encoded before the clock starts: on two cores the load generator's own JSON work
    # would take CPU from the worker it measures.
    by_second = [
        [encode_event(new_event(
            vin=vin, seq=second, event_time=after + timedelta(seconds=1 + second), speed=50.0,
            odometer=1000.0 + second / 72,
            dtcs=("P0420",) if second - warm >= 1 + i % max(span - 7, 1) else None,
        )) for i, vin in enumerate(vins)]
        for second in range(warm + span)
    ]  # fmt: skip
    start = time.perf_counter()

    def counters() -> tuple[float, ...]:
        return (time.perf_counter(), _cpu_s(worker.proc.pid), _machine_busy_s(),
                _writer_cpu_s(worker), time.process_time(), _java_cpu_s())  # fmt: skip

    marks = counters()
    try:
        for second, payloads in enumerate(by_second):
            if second == warm:
                marks = counters()  # the measured part starts
            at = after + timedelta(seconds=1 + second)
            for i, (vin, payload) in enumerate(zip(vins, payloads, strict=True)):

                def sent(err: Any, msg: Any, key: tuple[str, datetime] = (vin, at)) -> None:
                    if err is None:
                        stamps[key] = msg.timestamp()[1]

                while True:
                    try:
                        producer.produce(topic, payload, vin.encode(), on_delivery=sent)
                        break
                    except BufferError:
                        producer.poll(0.05)
                if i % 50 == 0:  # slices of 10 ms at 5,000/s
                    producer.poll(0)
                    ahead = start + second + i / rate - time.perf_counter()
                    if ahead > 0:
                        time.sleep(ahead)
        producer.flush(30)
        took, worker_s, busy_s, writer_s, own_s, java_s = (
            now - then for now, then in zip(counters(), marks, strict=True)
        )
        result.paced_rate = cars * span / took
        result.paced_worker_cores = worker_s / took
        result.paced_machine_cores = busy_s / took
        result.paced_writer_cores = writer_s / took
        result.paced_generator_cores = own_s / took
        result.paced_broker_cores = java_s / took
        latencies = _alert_latencies(boot, worker.alerts, stamps)
        time.sleep(2.0)  # the view is flushed every second
    finally:
        watcher.stop()
    result.alerts = len(latencies)
    result.latency_p50_s, result.latency_p99_s = _percentiles(latencies)
    seen = [(t_ms - stamps[(vin, opened)]) / 1000.0 for (vin, opened), t_ms in watcher.seen.items()
            if (vin, opened) in stamps]  # fmt: skip
    result.view_alerts = len(seen)
    result.view_p50_s, result.view_p99_s = _percentiles(seen)


def _percentiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    values = sorted(values)
    return values[len(values) // 2], values[min(len(values) - 1, int(0.99 * len(values)))]


class _ViewWatcher(threading.Thread):
    """Polls the worker's ``speed_alerts``: when each alert (VIN, opened_at) first showed."""

    def __init__(self, database: Path, every_s: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.database, self.every_s = database, every_s
        self.seen: dict[tuple[str, datetime], int] = {}  # -> wall clock, ms
        self._stop_event = threading.Event()

    def run(self) -> None:
        engine = connect(f"sqlite:///{self.database}")
        rowid: ColumnElement[int] = literal_column("rowid")
        last = 0  # rows only ever come in (upserts keep their rowid): read the new ones
        while not self._stop_event.wait(self.every_s):
            query = select(rowid, speed_alerts.c.vin, speed_alerts.c.opened_at).where(rowid > last)
            try:
                with engine.connect() as conn:
                    rows = conn.execute(query).all()
            except Exception:  # the worker is creating the schema or holds the lock
                continue
            now_ms = int(time.time() * 1000)
            for row_id, vin, opened in rows:
                key = (vin, opened if opened.tzinfo else opened.replace(tzinfo=UTC))
                self.seen.setdefault(key, now_ms)
                last = max(last, row_id)
        engine.dispose()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


def _alert_latencies(
    boot: str, alerts: str, stamps: dict[tuple[str, datetime], int], wait_s: float = 20.0
) -> list[float]:
    """Seconds from the deciding record's Kafka timestamp to the opened alert's."""
    consumer = Consumer({"bootstrap.servers": boot, "group.id": f"bench-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(alerts, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    wanted = len({vin for vin, _ in stamps})  # every car opens one alert
    out: list[float] = []
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline and len(out) < wanted:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            alert = decode_alert(msg.value() or b"")
            sent = stamps.get((alert.vin, alert.evidence_time))
            if alert.status is AlertStatus.OPENED and sent is not None:
                out.append((msg.timestamp()[1] - sent) / 1000.0)
    finally:
        consumer.close()
    return out


def empty_agent() -> None:
    """A Faust worker whose one agent only counts the records (the benchmark's yardstick)."""
    os.environ["FAUST_LOOP"] = os.environ.get("HOT_LOOP", "uvloop")  # read on import
    import faust
    from prometheus_client import Counter, start_http_server

    from hot_path.app import broker_urls
    from hot_path.config import HotPathSettings

    settings = HotPathSettings()
    settings.state_dir().parent.mkdir(parents=True, exist_ok=True)
    counted = Counter(COUNTER, "Records the empty agent counted.", ["outcome"])
    app = faust.App(settings.app_id, broker=broker_urls(os.environ["KAFKA_BOOTSTRAP_SERVERS"]),
                    store="memory://", topic_partitions=PARTITIONS, topic_replication_factor=1,
                    consumer_auto_offset_reset="earliest", web_enabled=False,
                    datadir=str(settings.state_dir()))  # not ./<app id>-data  # fmt: skip
    if os.environ.get("BENCH_EMPTY_INLINE") == "1":  # the worker's delivery, not Faust's
        from hot_path.delivery import use_inline_delivery

        use_inline_delivery(app, held_topics=[settings.telemetry_topic])
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

    args = sys.argv[1:]
    if args[:1] == ["paced"]:  # only the latency stage: ``paced RATE [LOOP]``
        rate, loop = float(args[1]), (args[2] if args[2:] else "uvloop")
        r = bench_hot_path(records=10_000, loops=(loop,), rounds=0, scale_rounds=0,
                           paced_rate=rate, paced_seconds=30)  # fmt: skip
    else:
        r = bench_hot_path(paced_rate=float(args[0]) if args else 5000.0)
    console = Console()
    for name, figure, ratio in r.rows():
        console.print(f"{name:64s} {figure:>24s}  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
