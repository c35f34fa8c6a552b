"""Hot-path workers that crash, restart and share the partitions, against the session broker.

Six cars on three partitions (two each, produced to explicit partitions) send
one reading a second for 300 s; each reports a trouble code from 20 s to
250 s, so an alert opened in the first half is still open when the worker
dies or leaves, and must be resolved (with the same id) by whoever carries on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from sqlalchemy import func, select

from fleet.store import connect, speed_alerts, speed_increments, speed_vehicle_state
from fleet.telemetry import encode_event
from fleet.vin import with_check_digit
from hot_path.events import AlertEvent, decode_alert
from tests.integration.test_hot_path import drain, wait_until_consumed
from tests.unit.hot_path.readings import reading
from tests.utils.hot_path import wait_for_commits, wait_for_views
from tests.utils.kafka import unique

PARTITIONS = 3
CARS = [with_check_digit(f"WF{i}ABCDE0SA12345{i}") for i in range(6)]
HALF, END = 150, 300


def send(
    producer: Producer, topic: str, seconds: range, healthy: list[str] | None = None,
    rate: float | None = None,
) -> int:  # fmt: skip
    """The six cars' readings over ``seconds``, and ``healthy`` cars' beside them.

    ``rate``: about that many records a second, not as fast as they go.
    """
    n, started = 0, time.monotonic()
    for s in seconds:
        for i, vin in enumerate(CARS):
            codes = ("P0420",) if 20 <= s < 250 else None
            ev = reading(s, vin=vin, dtcs=codes, odometer=1000.0 + s / 50)
            producer.produce(topic, encode_event(ev), vin.encode(), partition=i % PARTITIONS)
            n += 1
        for i, vin in enumerate(healthy or []):
            ev = reading(s, vin=vin, odometer=1000.0 + s / 50)
            producer.produce(topic, encode_event(ev), vin.encode(), partition=i % PARTITIONS)
            n += 1
        producer.poll(0)
        if rate is not None:
            time.sleep(max(0.0, started + n / rate - time.monotonic()))
    assert producer.flush(30) == 0
    return n


@pytest.fixture
def env(kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serving.db'}",
        "HOT_APP_ID": unique("hot-path"),
        "HOT_TELEMETRY_TOPIC": new_topic(PARTITIONS),
        "HOT_ALERTS_TOPIC": new_topic(PARTITIONS),
        "HOT_DEAD_LETTER_TOPIC": new_topic(1),
        "HOT_WEB_ENABLED": "false",
        "HOT_METRICS_PORT": "0",
        "HOT_SESSION_TIMEOUT_S": "8",
        "HOT_LOG_LEVEL": "warn",
        "TOPIC_TELEMETRY_PARTITIONS": str(PARTITIONS),
    }


class Workers:
    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env, self.tmp, self.procs = env, tmp, dict[str, subprocess.Popen[bytes]]()

    def start(self, name: str) -> subprocess.Popen[bytes]:
        # Each start gets an empty state directory: its tables come from the changelogs.
        env = {**self.env, "HOT_DATA_DIR": str(self.tmp / f"state-{name}")}
        log = (self.tmp / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "hot_path", "worker"], env=env, stdout=log, stderr=log
        )
        self.procs[name] = proc
        return proc

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"


@pytest.fixture
def workers(env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(env, tmp_path)
    try:
        yield pool
    finally:
        for name in list(pool.procs):
            pool.stop(name)


def alerts(make_consumer: Callable[..., Consumer], topic: str) -> list[AlertEvent]:
    return [decode_alert(m.value()) for m in drain(make_consumer(unique("r")), topic, PARTITIONS)]


def assert_each_car_alerted_once(events: list[AlertEvent], env: dict[str, str]) -> None:
    """One alert per car, opened at 25 s and resolved at 310 s, each event once; one row each."""
    ids = {(a.vin, a.alert_id) for a in events}
    assert sorted(vin for vin, _ in ids) == sorted(CARS)
    for vin in CARS:
        seen = [(str(a.kind), str(a.status), a.evidence_time) for a in events if a.vin == vin]
        assert seen == [("dtc_active", "opened", reading(25).event_time),
                        ("dtc_active", "resolved", reading(310).event_time)], vin  # fmt: skip
    engine = connect(env["DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(select(speed_alerts.c.vin, speed_alerts.c.status)).all()
        records = conn.execute(select(func.sum(speed_increments.c.records))).scalar()
        distance = conn.execute(select(func.sum(speed_increments.c.distance_km))).scalar()
        states = conn.execute(select(speed_vehicle_state.c.seq)).scalars().all()
    assert sorted(rows) == sorted((vin, "resolved") for vin in CARS)
    # Every record counted once across the crash or the hand-over, none lost.
    assert records == len(CARS) * (END + 70)
    assert distance == pytest.approx(len(CARS) * (END + 69) / 50)
    assert states == [END + 69] * len(CARS)


def test_a_killed_worker_resumes_from_its_offsets_and_changelogs(
    env: dict[str, str], workers: Workers, producer: Producer,
    make_consumer: Callable[..., Consumer],
) -> None:  # fmt: skip
    topic = env["HOT_TELEMETRY_TOPIC"]
    watcher = make_consumer(env["HOT_APP_ID"])
    first = workers.start("first")
    send(producer, topic, range(HALF))
    wait_until_consumed(watcher, topic, first, workers.log("first"))
    before = alerts(make_consumer, env["HOT_ALERTS_TOPIC"])
    assert sorted(a.vin for a in before) == sorted(CARS)  # all six open

    workers.stop("first", signal.SIGKILL)
    send(producer, topic, range(HALF, END + 70))  # clear from 250 s, resolved at 310 s
    second = workers.start("second")
    wait_until_consumed(watcher, topic, second, workers.log("second"), timeout=90)
    wait_for_views(make_consumer, env, PARTITIONS, second, workers.log("second"))
    assert_each_car_alerted_once(alerts(make_consumer, env["HOT_ALERTS_TOPIC"]), env)


def owners(admin: AdminClient, group: str, topic: str) -> list[list[int]]:
    """Partitions of ``topic`` each member of ``group`` owns."""
    for _ in range(20):
        try:
            desc = admin.describe_consumer_groups([group])[group].result(timeout=10)
            break
        except KafkaException:  # the coordinator is loading or moving: ask again
            time.sleep(0.5)
    else:
        raise AssertionError(f"cannot describe group {group}")
    return [
        sorted(tp.partition for tp in m.assignment.topic_partitions if tp.topic == topic)
        for m in desc.members
    ]


def test_two_workers_share_the_partitions_and_hand_cars_over(
    env: dict[str, str], workers: Workers, producer: Producer, admin: AdminClient,
    make_consumer: Callable[..., Consumer],
) -> None:  # fmt: skip
    topic, group = env["HOT_TELEMETRY_TOPIC"], env["HOT_APP_ID"]
    watcher = make_consumer(group)
    a, b = workers.start("a"), workers.start("b")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        owned = owners(admin, group, topic)
        if len(owned) == 2 and all(owned):
            break
        time.sleep(0.5)
    assert sorted(p for part in owned for p in part) == list(range(PARTITIONS)), owned
    assert all(owned), f"a worker owns nothing: {owned}"

    send(producer, topic, range(HALF))
    wait_until_consumed(watcher, topic, b, workers.log("b"))
    assert a.poll() is None, workers.log("a").read_text()[-3000:]
    workers.stop("b")  # its cars move to a, with their state
    send(producer, topic, range(HALF, END + 70))
    wait_until_consumed(watcher, topic, a, workers.log("a"), timeout=90)
    assert owners(admin, group, topic) == [list(range(PARTITIONS))]
    wait_for_views(make_consumer, env, PARTITIONS, a, workers.log("a"))
    assert_each_car_alerted_once(alerts(make_consumer, env["HOT_ALERTS_TOPIC"]), env)


BUSY = [with_check_digit(f"WF{i:03d}CDE0SA123459") for i in range(400)]
"""Healthy cars beside the six: enough records that a rebalance finds the worker mid-batch."""


def wait_for_owners(
    admin: AdminClient, group: str, topic: str, members: int, workers: Workers,
    timeout: float = 90,
) -> None:  # fmt: skip
    """Until ``members`` members of ``group`` own every partition of ``topic`` between them."""
    deadline = time.monotonic() + timeout
    while True:
        owned = owners(admin, group, topic)
        every = sorted(p for part in owned for p in part) == list(range(PARTITIONS))
        if len(owned) == members and all(owned) and every:
            return
        for name, proc in workers.procs.items():
            assert proc.poll() is None, workers.log(name).read_text()[-3000:]
        assert time.monotonic() < deadline, f"not {members} owners: {owned}"
        time.sleep(0.3)


def test_a_busy_worker_commits_nothing_unread_while_workers_come_and_go(
    env: dict[str, str], workers: Workers, producer: Producer, admin: AdminClient,
    make_consumer: Callable[..., Consumer],
) -> None:  # fmt: skip
    """Rebalance after rebalance while a worker is in the middle of a backlog.

    Four guests in turn join, take partitions and leave while records go
    in (5,000 a second, about a quarter of what the worker can read, until
    the last guest has left; every rebalance holds them a few seconds), so
    the rebalances find the worker mid-batch, catching up. Nothing may be
    lost or doubled: every offset committed, none of them past offsets
    nobody was handed (`GapGuard`'s "never read" warning; gaps below the
    commit are not that), each alert opened and resolved once. The ninth
    round's first inline delivery, which also delivered during rebalances,
    logged such offsets in two of eight runs of this test's first form
    (docs/hot_path.md, "Tenth round"); the final code in none.
    """
    topic, group = env["HOT_TELEMETRY_TOPIC"], env["HOT_APP_ID"]
    watcher = make_consumer(group)
    first = workers.start("first")
    wait_for_owners(admin, group, topic, 1, workers)
    time.sleep(2)  # its recovery: the fetch loop running
    churning = threading.Event()
    churning.set()

    def feed() -> None:
        send(producer, topic, range(END + 70), BUSY, rate=5000)
        s = END + 70
        while churning.is_set():  # on, healthy, until the last guest has left (all of them:
            send(producer, topic, range(s, s + 1), BUSY, rate=5000)  # one that fell silent
            s += 1  # would be flagged as a car whose telemetry stopped)

    with ThreadPoolExecutor(1) as pool:
        fed = pool.submit(feed)
        try:
            time.sleep(2)
            for k in range(4):  # each joins and leaves: two rebalances of the busy worker
                workers.start(f"guest{k}")
                wait_for_owners(admin, group, topic, 2, workers)
                time.sleep(1)
                workers.stop(f"guest{k}")
                wait_for_owners(admin, group, topic, 1, workers)
        finally:
            churning.clear()
        fed.result()
    wait_for_commits(watcher, [TopicPartition(topic, p) for p in range(PARTITIONS)], first,
                     workers.log("first"), timeout=120)  # fmt: skip
    # GapGuard's warning names the offsets Faust would commit past that nobody was handed.
    logs = [workers.log(name).read_text() for name in ["first", *(f"guest{k}" for k in range(4))]]
    unread = [line.strip() for text in logs for line in text.splitlines()
              if "never read" in line and not line.strip().endswith(": none")]  # fmt: skip
    assert not unread, unread
    events = alerts(make_consumer, env["HOT_ALERTS_TOPIC"])
    for vin in CARS:
        seen = [(str(a.status), a.evidence_time) for a in events if a.vin == vin]
        assert seen == [("opened", reading(25).event_time),
                        ("resolved", reading(310).event_time)], vin  # fmt: skip
    assert [a for a in events if a.vin in BUSY] == []
