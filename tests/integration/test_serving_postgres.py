"""The hot path's speed-layer writes, read back through the serving API, on SQLite and on
PostgreSQL alike (``store_url``): upserts, replays, alert lifecycles, expiry, time zones.

`hot_path.speed_store.SpeedStore` is driven through its public methods only, as the
Faust agent drives it; the test server's time zone is not UTC on purpose.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from cold_path.batch import publish
from fleet.alerts import AlertKind, Severity
from fleet.config import KafkaSettings
from fleet.store import connect, speed_increments, speed_vehicle_state
from hot_path.events import AlertEvent, AlertStatus
from hot_path.speed_store import SpeedStore
from serving.config import ServingSettings
from serving.main import create_app
from tests.unit.hot_path.readings import NOW, OTHER_VIN, START, VIN, reading
from tests.utils.postgres import SERVER_TIMEZONE

SECONDS = list(range(0, 181, 10))  # 19 readings over three minutes: buckets 0, 60, 120, 180


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> TestClient:
    settings = ServingSettings(reports_dir=tmp_path / "reports", cluster_timeout_s=0.5)
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:1", client_id="serving-tests")
    return TestClient(create_app(settings, engine=engine, kafka=kafka))


def hot_path(engine: Engine) -> SpeedStore:
    """A worker's store as it starts: tracks and offsets loaded from the serving store."""
    store = SpeedStore(engine, group_id="hot-path", topic="fleet.telemetry", bucket_s=60)
    store.load()
    return store


def drive(store: SpeedStore, vin: str, seconds: list[int], *, first_offset: int = 0) -> None:
    for i, s in enumerate(seconds):
        ev = reading(s, vin=vin, odometer=100.0 + s / 100, fuel_litres=40.0 - s / 1000)
        store.record(ev, partition=0 if vin == VIN else 1, offset=first_offset + i, now=NOW)


def dtc_alert(status: AlertStatus, at: int) -> AlertEvent:
    return AlertEvent(
        alert_id=f"{VIN}:dtc_active:1", vin=VIN, kind=AlertKind.DTC_ACTIVE, status=status,
        severity=Severity.WARNING, opened_at=reading(0).event_time,
        evidence_time=reading(at).event_time, detected_at=NOW, detail={"code": "P0301"},
    )  # fmt: skip


def z(seconds: int) -> str:
    """The event time ``seconds`` after START as the API writes it."""
    return (START + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def test_what_the_hot_path_writes_is_what_the_api_serves(
    engine: Engine, client: TestClient
) -> None:
    store = hot_path(engine)
    drive(store, VIN, SECONDS)
    drive(store, OTHER_VIN, [0, 30, 60])
    store.alert(dtc_alert(AlertStatus.OPENED, 20))
    assert store.flush() > 0

    car = client.get(f"/vehicles/{VIN}").json()
    assert car["layers"] == ["speed"]
    assert car["distance_km"] == pytest.approx(1.8)  # the odometer's rise, 100.0 -> 101.8
    assert car["fuel_used_l"] == pytest.approx(0.18)
    assert car["state"]["event_time"] == z(180)  # UTC, whatever the database's zone
    assert car["state"]["odometer_km"] == pytest.approx(101.8)
    [opened] = car["open_alerts"]
    assert (opened["kind"], opened["opened_at"]) == ("dtc_active", z(0))
    assert opened["detail"] == {"code": "P0301"}

    # The worker restarts and Kafka redelivers from an older offset: the upserts add nothing
    # for what the store already holds, and a late record does not roll the state back.
    again = hot_path(engine)
    drive(again, VIN, [*SECONDS, 190], first_offset=0)
    drive(again, VIN, [185], first_offset=len(SECONDS) + 1)
    again.alert(dtc_alert(AlertStatus.RESOLVED, 190))
    again.flush()
    car = client.get(f"/vehicles/{VIN}").json()
    assert car["distance_km"] == pytest.approx(1.9)
    assert car["state"]["event_time"] == z(190)
    assert car["open_alerts"] == []
    resolved = client.get("/alerts", params={"status": "resolved"}).json()["items"]
    assert [(a["vin"], a["resolved_at"]) for a in resolved] == [(VIN, z(190))]
    page = client.get("/vehicles", params={"sort": "distance"}).json()
    assert [v["vin"] for v in page["items"]] == [VIN, OTHER_VIN]
    assert page["served"]["layers"] == ["speed"]


def test_a_published_batch_takes_over_and_old_buckets_expire(
    engine: Engine, client: TestClient
) -> None:
    store = hot_path(engine)
    drive(store, VIN, SECONDS)
    store.flush()
    with engine.connect() as conn:
        buckets = conn.execute(select(speed_increments.c.bucket_start)).scalars().all()
    assert sorted((b - START).total_seconds() for b in buckets) == [0.0, 60.0, 120.0, 180.0]
    publish(
        engine, {}, started=NOW, watermark=START + timedelta(seconds=120), events=13, excluded=0
    )
    served = client.get(f"/vehicles/{VIN}").json()["served"]
    assert (served["watermark"], served["speed_from"]) == (z(120), z(120))
    assert served["aligned"] is True
    assert store.expire(0) == 2  # the buckets at 0 and 60 s are behind the watermark
    assert store.expire(0) == 0


def test_the_store_hands_back_utc_on_a_server_in_another_zone(postgres_url: str) -> None:
    engine = connect(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW timezone")).scalar_one() == SERVER_TIMEZONE
        store = hot_path(engine)
        drive(store, VIN, [0, 10, 70])
        store.flush()
        t = speed_increments.c
        with engine.connect() as conn:
            row = conn.execute(select(speed_vehicle_state)).one()
            # Compared in the database, as instants: a UTC bound against the server's zone.
            later = conn.execute(
                select(t.bucket_start).where(t.bucket_start >= START + timedelta(seconds=60))
            ).scalars()
            assert list(later) == [START + timedelta(seconds=60)]
        assert row.event_time == START + timedelta(seconds=70)
        assert row.event_time.tzinfo == UTC and row.updated_at.tzinfo == UTC
    finally:
        engine.dispose()
