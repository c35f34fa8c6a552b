"""Hand-made store rows for the serving tests: a published batch and speed-layer rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from cold_path.batch import publish
from fleet import store

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
WATERMARK = T0 + timedelta(hours=1)  # 09:00:00, a minute boundary
VIN_A = "1FLEET0000000000A"
VIN_B = "1FLEET0000000000B"
VIN_C = "1FLEET0000000000C"  # speed layer only
VIN_D = "1FLEET0000000000D"  # batch only, too short a distance for an efficiency


def efficiency_row(vin: str, cls: str, km: float, litres: float, **extra: Any) -> dict[str, Any]:
    return {
        "vin": vin, "vehicle_class": cls, "distance_km": km, "fuel_used_l": litres,
        "refuelled_l": 0.0, "refuels": 0, "l_per_100km": litres / km * 100 if km >= 1 else None,
        "rank": None, "first_event": T0, "last_event": WATERMARK - timedelta(seconds=1), **extra,
    }  # fmt: skip


def route_row(origin: str, destination: str, route: str, rank: int) -> dict[str, Any]:
    return {
        "origin": origin, "destination": destination, "route": route, "trips": 3,
        "mean_duration_s": 600.0 + rank, "mean_fuel_l": 1.0 + rank, "mean_distance_km": 9.0,
        "rank_fuel": rank, "rank_time": rank, "recommended": rank == 1,
    }  # fmt: skip


def publish_batch(engine: Engine, watermark: datetime | None = WATERMARK) -> int:
    views = {
        store.vehicle_efficiency: [
            efficiency_row(VIN_A, "compact", 100.0, 6.0),
            efficiency_row(VIN_B, "van", 200.0, 20.0),
            efficiency_row(VIN_D, "van", 0.5, 0.1),
        ],
        store.route_rankings: [
            route_row("depot", "airport", "s1>s2", 1),
            route_row("depot", "airport", "s1>s3>s2", 2),
            route_row("harbour", "depot", "s9", 1),
        ],
    }
    return publish(engine, views, started=T0, watermark=watermark, events=1000, excluded=0)


def add_buckets(engine: Engine, vin: str, buckets: list[tuple[datetime, float, float]]) -> None:
    rows = [
        {"vin": vin, "bucket_start": start, "distance_km": km, "fuel_used_l": litres,
         "driving_s": 60.0, "harsh_events": 0, "records": 60, "updated_at": start}
        for start, km, litres in buckets
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(store.speed_increments), rows)


def add_state(engine: Engine, vin: str, when: datetime, **signals: Any) -> None:
    row = {
        "vin": vin, "event_time": when, "seq": 42, "partition": 0, "missing_seqs": "[]",
        "updated_at": when, "speed_kmh": 50.0, "odometer_km": 1234.5, **signals,
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(store.speed_vehicle_state), row)


def add_alert(
    engine: Engine, vin: str, kind: str, severity: str, *, status: str = "open", minute: int = 0
) -> str:
    opened = WATERMARK + timedelta(minutes=minute)
    alert_id = f"{vin}:{kind}:{minute}"
    row = {
        "alert_id": alert_id, "vin": vin, "kind": kind, "severity": severity, "status": status,
        "opened_at": opened, "evidence_time": opened, "detected_at": opened,
        "resolved_at": opened if status == "resolved" else None,
        "detail": json.dumps({"value": 1}),
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(store.speed_alerts), row)
    return alert_id


def populate(engine: Engine) -> None:
    """A batch up to 09:00 and speed rows on both sides of it."""
    publish_batch(engine)
    minute = timedelta(minutes=1)
    # Buckets before the watermark are already in the batch: they must not count again.
    add_buckets(engine, VIN_A, [(WATERMARK - minute, 9.0, 9.0), (WATERMARK, 1.0, 0.1),
                                (WATERMARK + minute, 2.0, 0.2)])  # fmt: skip
    add_buckets(engine, VIN_C, [(WATERMARK + minute, 3.0, 0.45)])
    add_state(engine, VIN_A, WATERMARK + 2 * minute, fuel_litres=40.0)
    add_state(engine, VIN_C, WATERMARK + minute)
    add_alert(engine, VIN_A, "fuel_low", "warning", minute=1)
    add_alert(engine, VIN_A, "engine_overheat", "critical", minute=0)
    add_alert(engine, VIN_B, "harsh_driving", "info", minute=2)
    add_alert(engine, VIN_B, "battery_low", "warning", status="resolved", minute=3)
