"""The speed views in a SQLite serving store: upserts, replays, alerts, expiry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, insert, select

from fleet.alerts import AlertKind, Severity
from fleet.store import (
    batch_current,
    batch_runs,
    connect,
    speed_alerts,
    speed_increments,
    speed_vehicle_state,
)
from hot_path.events import AlertEvent, AlertStatus
from hot_path.speed_store import SpeedStore

from .readings import NOW, START, VIN, reading


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return connect(f"sqlite:///{tmp_path / 'serving.db'}")


def new_store(engine: Engine) -> SpeedStore:
    store = SpeedStore(engine, group_id="hot-path", topic="fleet.telemetry", bucket_s=60)
    store.load()
    return store


def feed(store: SpeedStore, seconds: list[int], first_offset: int = 0) -> None:
    for i, s in enumerate(seconds):
        ev = reading(s, odometer=100.0 + s / 100, fuel_litres=40.0 - s / 1000)
        store.record(ev, partition=0, offset=first_offset + i, now=NOW)


def totals(engine: Engine) -> dict[float, tuple[float, int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(speed_increments)).all()
    return {
        (r.bucket_start - START).total_seconds(): (round(r.distance_km, 6), r.records) for r in rows
    }


def test_increments_land_in_event_time_buckets_and_a_replay_adds_nothing(engine: Engine) -> None:
    store = new_store(engine)
    feed(store, [58, 59, 61, 60, 60])  # 60 arrives late, then again
    store.flush()
    assert totals(engine) == {0.0: (0.01, 2), 60.0: (0.02, 2)}

    # A restart replays from an older committed offset: the store already has those.
    again = new_store(engine)
    feed(again, [58, 59, 61, 60, 60, 62])
    again.flush()
    assert totals(engine) == {0.0: (0.01, 2), 60.0: (0.03, 3)}
    with engine.connect() as conn:
        state = conn.execute(select(speed_vehicle_state)).one()
    assert (state.vin, state.seq, state.event_time) == (VIN, 62, reading(62).event_time)


def test_a_restarted_store_carries_on_from_the_stored_track(engine: Engine) -> None:
    store = new_store(engine)
    feed(store, [0, 1, 3])
    store.flush()
    again = new_store(engine)  # the next offsets, a late record and a duplicate
    feed(again, [2, 2, 4], first_offset=3)
    again.flush()
    assert totals(engine) == {0.0: (0.04, 5)}


def alert(status: AlertStatus, at: int) -> AlertEvent:
    return AlertEvent(
        alert_id=f"{VIN}:dtc_active:1", vin=VIN, kind=AlertKind.DTC_ACTIVE, status=status,
        severity=Severity.WARNING, opened_at=reading(0).event_time,
        evidence_time=reading(at).event_time, detected_at=NOW,
    )  # fmt: skip


def test_an_alert_is_one_row_that_resolves_and_stays_resolved(engine: Engine) -> None:
    store = new_store(engine)
    store.alert(alert(AlertStatus.OPENED, 5))
    store.flush()
    store.alert(alert(AlertStatus.RESOLVED, 70))
    store.flush()
    store.alert(alert(AlertStatus.OPENED, 5))  # a replayed opening
    store.flush()
    with engine.connect() as conn:
        rows = conn.execute(select(speed_alerts)).all()
    assert [(r.status, r.resolved_at) for r in rows] == [("resolved", reading(70).event_time)]


def test_buckets_behind_the_batch_watermark_expire(engine: Engine) -> None:
    store = new_store(engine)
    feed(store, [0, 1, 3600, 3601])
    store.flush()
    assert store.expire(0) == 0  # no batch published yet
    with engine.begin() as conn:
        conn.execute(insert(batch_runs).values(
            version=1, started_at=NOW, watermark=START + timedelta(seconds=1800)
        ))  # fmt: skip
        conn.execute(insert(batch_current).values(id=1, version=1))
    assert store.expire(60) == 1
    assert list(totals(engine)) == [3600.0]


@pytest.mark.parametrize(
    ("table", "key", "copy"),
    [
        (speed_vehicle_state, "vin", "WBACOPY0000000000"),
        (speed_increments, "vin", "WBACOPY0000000000"),
        (speed_alerts, "alert_id", "a copy"),
    ],
)
def test_stored_values_are_the_text_sqlalchemy_stores(
    engine: Engine, table: Table, key: str, copy: str
) -> None:
    """The writer hands the driver its own rows; serving compares them with what SQLAlchemy binds.

    A timestamp stored as other text than SQLAlchemy's (say with ``+00:00``)
    reads back the same, yet compares wrongly in SQL against a bound value
    (a bucket at the watermark, the newest state of a car).
    """
    store = new_store(engine)
    feed(store, [0, 1, 61])
    store.alert(alert(AlertStatus.OPENED, 5))
    store.alert(alert(AlertStatus.RESOLVED, 9))  # a resolved_at to compare as well
    store.flush()
    with engine.begin() as conn:
        written = conn.execute(select(table)).mappings().first()
        assert written is not None
        conn.execute(insert(table).values({**written, key: copy}))  # SQLAlchemy's own binding
        raw = conn.exec_driver_sql(f"SELECT * FROM {table.name}").all()
    theirs = next(tuple(r) for r in raw if copy in tuple(r))
    ours = next(tuple(r) for r in raw if tuple(r)[0] == written[table.c[key].name]
                and copy not in tuple(r))  # fmt: skip
    assert [v for v in ours if v != written[key]] == [v for v in theirs if v != copy]
