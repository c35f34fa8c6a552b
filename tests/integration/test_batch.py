"""Archive a short stream from a real broker, run the batch over it, read the views back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cold_path import batch
from cold_path.archive import Archiver
from cold_path.config import ColdPathSettings
from fleet.store import batch_runs, connect, current_version, vehicle_efficiency
from fleet.telemetry import TelemetryEvent, encode_event
from tests.utils.kafka import produce_all

START = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
CARS = {  # VIN: (litres per reading, refuel of 20 l at reading 30?)
    "1HGCM82633A004352": (0.02, False),
    "1M8GDM9AXKP042788": (0.03, False),
    "WVWZZZ1JZXW000001": (0.02, True),
}


def stream() -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(60):
        for vin, (drain, refuels) in CARS.items():
            litres = 40 - drain * i + (20 if refuels and i >= 30 else 0)
            ev = TelemetryEvent(
                vin=vin, seq=i, event_time=START + timedelta(seconds=10 * i),
                odometer=1000 + 0.2 * i, fuel_litres=litres, trip_id=f"{vin[-4:]}-1",
                origin="depot", destination="airport",
            )  # fmt: skip
            out.append((vin.encode(), encode_event(ev)))
    return out


def test_batch_views_land_in_the_store_with_their_watermark(
    tmp_path, spark, kafka_settings, new_topic, producer, group_id
):
    topic = new_topic(3)
    produce_all(producer, topic, stream())
    settings = ColdPathSettings(
        topic=topic, group_id=group_id("cold-path"), master_dir=tmp_path / "master",
        watermark_lag_s=0, watermark_align_s=1, spark_shuffle_partitions=2,
    )  # fmt: skip
    Archiver(settings, kafka_settings).run(idle_exit_s=3)
    broken = (
        tmp_path
        / "master"
        / "event_date=2026-11-25"
        / "fleet.telemetry-p999-000000000000-000000000009.parquet"
    )
    broken.write_bytes(b"PAR1 this is not a parquet file")
    engine = connect(f"sqlite:///{tmp_path / 'serving.db'}")

    first = batch.run(spark, engine, settings)
    second = batch.run(spark, engine, settings)

    # Every car's last reading is at START + 590 s: complete up to there, exclusive.
    assert first.watermark == START + timedelta(seconds=590)
    assert first.events == 3 * 59
    assert [p for p, _ in first.excluded_files] == [str(broken)]
    assert current_version(engine) == (second.version, first.watermark)
    with engine.connect() as conn:
        rows = {
            r.vin: r
            for r in conn.execute(
                select(vehicle_efficiency).where(vehicle_efficiency.c.version == second.version)
            )
        }
        versions = conn.execute(select(batch_runs.c.version)).scalars().all()
    assert versions == [first.version, second.version]
    steady, thirsty, refuelled = (rows[v] for v in CARS)
    assert steady.distance_km == pytest.approx(11.6)
    assert steady.l_per_100km == pytest.approx(10.0)
    assert thirsty.l_per_100km == pytest.approx(15.0)
    # The refuel costs the one reading interval it hides, nothing more.
    assert refuelled.fuel_used_l == pytest.approx(1.14)
    assert refuelled.refuelled_l == pytest.approx(19.98)
    assert (refuelled.refuels, steady.refuels) == (1, 0)
    assert [steady.rank, refuelled.rank, thirsty.rank] == [2, 1, 3]
    # Makers outside the fleet registry have no class (fleet.registry).
    assert {r.vehicle_class for r in rows.values()} == {None}


def naive_efficiency(events, *, smoothing: int = 5):
    """The bug fleet tools ship: fuel used = first level - last level, refuels ignored."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    whole = (
        Window.partitionBy("vin")
        .orderBy("event_time")
        .rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    )
    return (
        events.withColumn("first_l", F.first("fuel_litres").over(whole))
        .withColumn("last_l", F.last("fuel_litres").over(whole))
        .groupBy("vin")
        .agg(
            (F.max("odometer") - F.min("odometer")).alias("distance_km"),
            (F.first("first_l") - F.first("last_l")).alias("fuel_used_l"),
            F.min("event_time").alias("first_event"),
            F.max("event_time").alias("last_event"),
        )
        .withColumn("refuelled_l", F.lit(0.0))
        .withColumn("refuels", F.lit(0))
        .withColumn("l_per_100km", F.col("fuel_used_l") / F.col("distance_km") * 100)
        .withColumn("rank", F.row_number().over(Window.orderBy("l_per_100km")))
        .select("vin", "distance_km", "fuel_used_l", "refuelled_l", "refuels", "l_per_100km",
                "rank", "first_event", "last_event")
    )  # fmt: skip


def test_replay_drill_a_bug_is_fixed_by_recomputing_from_the_unchanged_dataset(
    tmp_path, spark, kafka_settings, new_topic, producer, group_id, monkeypatch
):
    topic = new_topic(3)
    produce_all(producer, topic, stream())
    master = tmp_path / "master"
    settings = ColdPathSettings(
        topic=topic, group_id=group_id("cold-path"), master_dir=master, watermark_lag_s=0,
        watermark_align_s=1,
        spark_shuffle_partitions=2,
    )  # fmt: skip
    Archiver(settings, kafka_settings).run(idle_exit_s=3)
    engine = connect(f"sqlite:///{tmp_path / 'serving.db'}")
    dataset = {p: p.read_bytes() for p in master.rglob("*.parquet")}
    refuelling = "WVWZZZ1JZXW000001"

    def published() -> dict[str, float]:
        version, _ = current_version(engine)
        query = select(vehicle_efficiency).where(vehicle_efficiency.c.version == version)
        with engine.connect() as conn:
            return {r.vin: r.fuel_used_l for r in conn.execute(query)}

    with monkeypatch.context() as bug:
        bug.setattr(batch, "vehicle_efficiency", naive_efficiency)
        batch.run(spark, engine, settings)
    assert published()[refuelling] == pytest.approx(40 - (60 - 0.02 * 58))  # negative: wrong

    batch.run(spark, engine, settings)  # the fix shipped: recompute, nothing else
    assert published()[refuelling] == pytest.approx(1.14)
    assert {p: p.read_bytes() for p in master.rglob("*.parquet")} == dataset
