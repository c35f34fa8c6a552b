"""The speed-view writer against the session broker: its own group, exactly once in the store.

The writer (`hot_path.view_writer`) is a second consumer group on the telemetry
and alerts topics. Its guarantee is the store's offsets: whatever Kafka hands
it again (a restart, a commit that never landed) is left out, whatever it has
not written is read again.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from sqlalchemy import Engine, func, select

from fleet.alerts import AlertKind, Severity
from fleet.config import KafkaSettings
from fleet.store import connect, speed_alerts, speed_increments, speed_offsets, speed_vehicle_state
from fleet.telemetry import encode_event
from fleet.vin import with_check_digit
from hot_path.config import HotPathSettings
from hot_path.events import AlertEvent, AlertStatus, encode_alert
from hot_path.view_writer import ViewWriter, WriterStats
from tests.unit.hot_path.readings import OTHER_VIN, VIN, reading
from tests.utils.hot_path import running_worker, wait_for_views, worker_env
from tests.utils.kafka import produce_all, unique
from tests.utils.waiting import wait_until

PARTITIONS = 3
CARS = (VIN, OTHER_VIN)


def readings(seconds: range) -> list[tuple[bytes, bytes]]:
    return [(vin.encode(), encode_event(reading(s, vin=vin, odometer=500.0 + s / 100)))
            for s in seconds for vin in CARS]  # fmt: skip


def alert(status: AlertStatus, at: int) -> tuple[bytes, bytes]:
    opened = reading(20).event_time
    event = AlertEvent(
        alert_id=f"{VIN}:dtc_active:{int(opened.timestamp() * 1000)}", vin=VIN,
        kind=AlertKind.DTC_ACTIVE, status=status, severity=Severity.WARNING, opened_at=opened,
        evidence_time=reading(at).event_time, detected_at=datetime.now(UTC),
    )  # fmt: skip
    return VIN.encode(), encode_alert(event)


def run_writer(
    settings: HotPathSettings, kafka: KafkaSettings, done: Callable[[WriterStats], bool],
    timeout: float = 60,
) -> WriterStats:  # fmt: skip
    """A writer in a thread until ``done(stats)`` (checked after each flush), then stopped.

    It writes to ``DATABASE_URL``, as the worker's writer does.
    """
    writer = ViewWriter.from_settings(settings, kafka)
    finished = threading.Event()

    def report(stats: WriterStats) -> None:
        if done(stats):
            finished.set()

    thread = threading.Thread(target=writer.run, args=(finished.is_set, report), daemon=True)
    thread.start()
    assert finished.wait(timeout), f"the writer did not get there: {writer.stats}"
    thread.join(30)
    return writer.stats


def totals(engine: Engine) -> tuple[int, float, list[int], list[str]]:
    with engine.connect() as conn:
        records = conn.execute(select(func.sum(speed_increments.c.records))).scalar() or 0
        km = conn.execute(select(func.sum(speed_increments.c.distance_km))).scalar() or 0.0
        seqs = conn.execute(select(speed_vehicle_state.c.seq)).scalars().all()
        alerts = conn.execute(select(speed_alerts.c.status)).scalars().all()
    return int(records), float(km), sorted(seqs), list(alerts)


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The serving store the writer writes to (``DATABASE_URL``, as in the worker)."""
    url = f"sqlite:///{tmp_path / 'serving.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


@pytest.fixture
def settings(new_topic: Callable[..., str]) -> HotPathSettings:
    """A writer of its own: group, telemetry and alerts topics; flushing every 0.2 s."""
    return HotPathSettings(
        app_id=unique("views"), telemetry_topic=new_topic(PARTITIONS),
        alerts_topic=new_topic(PARTITIONS), speed_flush_every_s=0.2,
    )  # fmt: skip


def test_the_writer_counts_each_record_once_across_a_restart_and_a_lost_commit(
    settings: HotPathSettings, url: str, producer: Producer,
    make_consumer: Callable[..., Consumer], kafka_settings: KafkaSettings,
) -> None:  # fmt: skip
    t = settings.telemetry_topic
    broken = (VIN.encode(), b'{"not": "telemetry"}')
    produce_all(producer, t, [*readings(range(60)), broken, readings(range(59, 60))[0]])
    produce_all(producer, settings.alerts_topic, [alert(AlertStatus.OPENED, 25)])

    first = run_writer(settings, kafka_settings,
                       lambda s: s.records >= 121 and s.alerts == 1)  # fmt: skip
    assert (first.records, first.skipped, first.alerts) == (121, 1, 1)  # a duplicate too
    engine = connect(url)
    assert totals(engine) == (120, pytest.approx(2 * 59 / 100), [59, 59], ["open"])
    # The store holds each partition's next offset; Kafka got the same as the group's commit.
    o = speed_offsets.c
    with engine.connect() as conn:
        rows = conn.execute(select(o.topic, o.partition, o.next_offset)
                            .where(o.group_id == settings.app_id)).all()  # fmt: skip
    stored = {(r.topic, r.partition): r.next_offset for r in rows}
    assert sum(off for (topic, _), off in stored.items() if topic == t) == 122
    group = make_consumer(settings.views_group())
    wanted = [TopicPartition(topic, p) for topic, p in stored]
    assert {(tp.topic, tp.partition): tp.offset
            for tp in group.committed(wanted, timeout=10)} == stored  # fmt: skip

    # A commit that never landed: Kafka's offsets back to the beginning. The store's decide.
    group.commit(offsets=[TopicPartition(topic, p, 0) for topic, p in stored],
                 asynchronous=False)  # fmt: skip
    group.close()
    produce_all(producer, t, readings(range(60, 90)))
    produce_all(producer, settings.alerts_topic, [alert(AlertStatus.RESOLVED, 85)])
    again = run_writer(settings, kafka_settings,
                       lambda s: s.records >= 60 and s.alerts == 1)  # fmt: skip
    assert again.records == 60 and again.replayed >= 121  # all of the first run, left out
    assert totals(engine) == (180, pytest.approx(2 * 89 / 100), [89, 89], ["resolved"])


def produce_to(producer: Producer, topic: str, cars: dict[str, int], seconds: range) -> None:
    """Each car's readings to the partition ``cars`` gives it (one car a partition here)."""
    for s in seconds:
        for vin, partition in cars.items():
            value = encode_event(reading(s, vin=vin, odometer=500.0 + s / 100))
            producer.produce(topic, value=value, key=vin.encode(), partition=partition)
        producer.poll(0)
    assert producer.flush(30) == 0


def stored_offsets(engine: Engine, group_id: str) -> dict[tuple[str, int], int]:
    o = speed_offsets.c
    with engine.connect() as conn:
        rows = conn.execute(select(o.topic, o.partition, o.next_offset)
                            .where(o.group_id == group_id)).all()  # fmt: skip
    return {(r.topic, r.partition): r.next_offset for r in rows}


def test_two_writers_share_the_partitions_and_commit_only_their_own(
    settings: HotPathSettings, url: str, producer: Producer,
    make_consumer: Callable[..., Consumer], kafka_settings: KafkaSettings,
) -> None:  # fmt: skip
    t, a = settings.telemetry_topic, settings.alerts_topic
    cars = {with_check_digit(f"WF3ABCDE0SA00000{p}"): p for p in range(PARTITIONS)}
    produce_to(producer, t, cars, range(60))
    produce_all(producer, a, [alert(AlertStatus.OPENED, 25)])
    writers = [ViewWriter.from_settings(settings, kafka_settings) for _ in range(2)]
    owned: list[dict[str, set[int]]] = [{}, {}]
    stop = threading.Event()

    def report(i: int) -> Callable[[WriterStats], None]:
        def seen(_: WriterStats) -> None:  # in the writer's own thread, after each flush
            assignment = writers[i].consumer.assignment()
            owned[i] = {topic: {tp.partition for tp in assignment if tp.topic == topic}
                        for topic in (t, a)}  # fmt: skip

        return seen

    def split() -> bool:
        mine = [o.get(t, set()) for o in owned]
        return all(mine) and not mine[0] & mine[1] and mine[0] | mine[1] == set(range(PARTITIONS))

    def counted(field: str) -> int:
        return sum(getattr(w.stats, field) for w in writers)

    def telemetry_stored() -> int:
        return sum(off for (topic, _), off in stored_offsets(engine, settings.app_id).items()
                   if topic == t)  # fmt: skip

    engine = connect(url)
    threads = [threading.Thread(target=w.run, args=(stop.is_set, report(i)), daemon=True)
               for i, w in enumerate(writers)]  # fmt: skip
    try:
        # The first writer alone until the store holds every partition's offsets, so both
        # load them at the rebalance the second one brings.
        threads[0].start()
        wait_until(lambda: telemetry_stored() == 60 * PARTITIONS, "the first writer's work", 60)
        threads[1].start()
        wait_until(lambda: split() and counted("alerts") >= 1,
                   f"two writers sharing the partitions: {owned}", 60)  # fmt: skip
        # Each reads part of the telemetry, and the alerts of the same partition numbers.
        assert all(o[t] == o[a] for o in owned), owned

        # New readings on every partition: each writer moves its own partitions on, and
        # Kafka's commits follow the store's offsets, flush after flush of both writers.
        produce_to(producer, t, cars, range(60, 90))
        wait_until(lambda: telemetry_stored() == 90 * PARTITIONS, "every reading in the store", 60)
        stored = stored_offsets(engine, settings.app_id)
        group = make_consumer(settings.views_group())
        wanted = [TopicPartition(topic, p) for topic, p in stored]
        time.sleep(2 * settings.speed_flush_every_s)
        for _ in range(6):
            committed = group.committed(wanted, timeout=10)
            assert {(tp.topic, tp.partition): tp.offset for tp in committed} == stored
            time.sleep(0.3)
        group.close()
    finally:
        stop.set()
        for thread in threads:
            if thread.ident is not None:
                thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    assert totals(connect(url)) == (90 * PARTITIONS, pytest.approx(PARTITIONS * 89 / 100),
                                    [89] * PARTITIONS, ["open"])  # fmt: skip


def test_the_worker_starts_its_writer_and_takes_it_down_when_killed(
    kafka_bootstrap: str, new_topic: Callable[..., str], producer: Producer,
    make_consumer: Callable[..., Consumer], tmp_path: Path,
) -> None:  # fmt: skip
    env = worker_env({**os.environ, "DATA_DIR": str(tmp_path / "data")}, kafka_bootstrap,
                     new_topic, tmp_path / "state", PARTITIONS)  # fmt: skip
    env |= {
        "HOT_SPEED_SCHED_IDLE": "true",
        "HOT_SPEED_NICE": "19",
    }  # the defaults, whatever .env says
    log = tmp_path / "worker.log"
    with running_worker(env, log) as worker:
        produce_all(producer, env["HOT_TELEMETRY_TOPIC"], readings(range(30)))
        wait_for_views(make_consumer, env, PARTITIONS, worker, log, timeout=90)
        children = _children(worker.pid)
        cmdlines = [Path(f"/proc/{c}/cmdline").read_bytes() for c in children]
        writers = [c for c, line in zip(children, cmdlines, strict=True) if b"spawn_main" in line]
        assert writers, cmdlines
        # Below the worker: only on CPU nobody else wants (HOT_SPEED_SCHED_IDLE, HOT_SPEED_NICE).
        for pid in writers:
            assert os.sched_getscheduler(pid) == os.SCHED_IDLE
            assert os.getpriority(os.PRIO_PROCESS, pid) == 19
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        deadline = time.monotonic() + 20
        while any(map(_alive, children)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(map(_alive, children)), f"outlived their worker: {cmdlines}"


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(c) for c in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_broken_alert_is_skipped_not_fatal(
    settings: HotPathSettings, url: str, producer: Producer, kafka_settings: KafkaSettings
) -> None:
    produce_all(producer, settings.alerts_topic,
                [(VIN.encode(), b"\xff not json"), alert(AlertStatus.OPENED, 25)])  # fmt: skip
    stats = run_writer(settings, kafka_settings, lambda s: s.alerts == 1)
    assert stats.alerts == 1
    assert totals(connect(url))[3] == ["open"]
