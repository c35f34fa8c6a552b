"""Fuel efficiency transforms on small hand-made DataFrames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import Row, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.testing import assertDataFrameEqual

from cold_path.dataset import SCHEMA
from cold_path.efficiency import trip_efficiency, vehicle_efficiency
from cold_path.extract import valid_events

VIN = "1HGCM82633A004352"
T0 = datetime(2026, 11, 24, 23, 59, 0, tzinfo=UTC)


def events(
    spark: SparkSession, readings: list[tuple[float, float]], *, trip: str = "t1", vin: str = VIN
):
    """(odometer km, fuel litres) readings 10 s apart, as the extract step yields them."""
    rows = [
        Row(vin=vin, seq=i, event_time=T0 + timedelta(seconds=10 * i), trip_id=trip,
            origin="depot", destination="airport", odometer=float(odo), fuel_litres=float(fuel))
        for i, (odo, fuel) in enumerate(readings)
    ]  # fmt: skip
    return spark.createDataFrame(rows)


def test_a_refuel_mid_trip_is_not_negative_consumption(spark):
    df = events(spark, [(0, 40), (10, 39), (20, 38), (20, 60), (30, 59), (40, 58)])

    got = vehicle_efficiency(df, smoothing=1).select(
        "vin", "distance_km", "fuel_used_l", "refuelled_l", "refuels", "l_per_100km", "rank"
    )

    # Naive first-minus-last would say 40 - 58 = -18 litres.
    expected = [Row(vin=VIN, distance_km=40.0, fuel_used_l=4.0, refuelled_l=22.0, refuels=1,
                    l_per_100km=10.0, rank=1)]  # fmt: skip
    assertDataFrameEqual(got, expected)


def test_a_refuel_spread_over_many_readings_is_one_refuel(spark):
    # A pump adds 0.6 l/s: at 1 Hz no single step looks like a refuel.
    pumping = [(20.0, 30 + 0.6 * i) for i in range(1, 51)]
    readings = [(0, 31), (10, 30.5), (20, 30)] + pumping + [(30, 59.5), (40, 59)]
    df = events(spark, readings)

    got = vehicle_efficiency(df, smoothing=1).first()

    assert got.refuels == 1
    assert got.refuelled_l == pytest.approx(30.0)
    assert got.fuel_used_l == pytest.approx(2.0)  # 31 -> 30, then 60 -> 59
    assert got.l_per_100km == pytest.approx(5.0)


def test_small_rises_are_gauge_noise_not_refuels(spark):
    df = events(spark, [(0, 40), (10, 39), (20, 39.5), (30, 38), (40, 38.4), (50, 37)])
    got = vehicle_efficiency(df, smoothing=1).first()
    assert (got.refuels, got.fuel_used_l) == (0, pytest.approx(3.0))


def test_gauge_noise_averages_out_at_both_ends(spark):
    true_levels = [50, 49, 48, 47, 46, 45]
    noise = [0.3, -0.3, 0.0, 0.3, -0.3, 0.0]
    df = events(
        spark,
        [(i * 8.0, lvl + n) for i, (lvl, n) in enumerate(zip(true_levels, noise, strict=True))],
    )

    noisy = vehicle_efficiency(df, smoothing=1).first()
    smoothed = vehicle_efficiency(df, smoothing=3).first()

    assert noisy.fuel_used_l == pytest.approx(5.3)  # the noise lands in the answer
    assert smoothed.fuel_used_l == pytest.approx(5.0)  # true drain: 50 -> 45
    assert smoothed.l_per_100km == pytest.approx(5.0 / 40 * 100)


def test_a_trip_crossing_midnight_stays_one_trip(spark):
    df = events(
        spark,
        [(100, 30), (101, 29.9), (102, 29.8), (103, 29.7), (104, 29.6), (105, 29.5), (106, 29.4)],
    )
    assert df.selectExpr("count(distinct to_date(event_time))").first()[0] == 2

    got = trip_efficiency(df, smoothing=1).select(
        "vin", "trip_id", "origin", "destination", "distance_km", "duration_s", "fuel_used_l"
    )

    expected = [Row(vin=VIN, trip_id="t1", origin="depot", destination="airport",
                    distance_km=6.0, duration_s=60.0, fuel_used_l=0.6)]  # fmt: skip
    assertDataFrameEqual(got, expected, rtol=1e-9)


def test_the_fleet_is_ranked_most_frugal_first_and_short_hops_are_unranked(spark):
    frugal = events(spark, [(0, 40), (100, 35)], vin="1M8GDM9AXKP042788")
    thirsty = events(spark, [(0, 40), (100, 30)])
    parked = events(spark, [(5, 40), (5.2, 39.9)], vin="WVWZZZ1JZXW000001")

    got = vehicle_efficiency(frugal.union(thirsty).union(parked), smoothing=1)

    ranks = {r.vin: (r.rank, r.l_per_100km) for r in got.collect()}
    assert ranks == {
        "1M8GDM9AXKP042788": (1, 5.0),
        VIN: (2, 10.0),
        "WVWZZZ1JZXW000001": (None, None),
    }


def test_extract_keeps_one_copy_of_each_record_and_drops_invalid_ones(spark):
    def row(offset: int, seq: int | None, valid: bool = True) -> dict:
        values = dict.fromkeys(from_arrow_schema(SCHEMA).names)
        values.update(topic="fleet.telemetry", partition=1, offset=offset, kafka_timestamp=T0,
                      raw=b"{}", valid=valid, seq=seq)  # fmt: skip
        if valid:
            values.update(vin=VIN, event_time=T0)
        return values

    rows = [row(7, 1), row(9, 1), row(8, 2), row(10, None, valid=False)]  # offset 9: a redelivery
    raw = spark.createDataFrame(rows, schema=from_arrow_schema(SCHEMA))

    got = valid_events(raw).select("seq", "offset")

    assertDataFrameEqual(got, [Row(seq=1, offset=7), Row(seq=2, offset=8)])


def test_a_car_without_fuel_or_odometer_readings_gets_no_figure_and_no_rank(spark):
    schema = "vin string, seq long, event_time timestamp, trip_id string, origin string, " \
             "destination string, odometer double, fuel_litres double"  # fmt: skip
    rows = [
        *[("NOFUEL00000000001", i, T0 + timedelta(seconds=10 * i), "t", "a", "b", 10.0 * i, None)
          for i in range(6)],
        *[("NOODO000000000001", i, T0 + timedelta(seconds=10 * i), "t", "a", "b", None, 40.0 - i)
          for i in range(6)],
        *[(VIN, i, T0 + timedelta(seconds=10 * i), "t", "a", "b", 10.0 * i, 40.0 - 0.5 * i)
          for i in range(6)],
    ]  # fmt: skip
    got = {r.vin: r for r in vehicle_efficiency(spark.createDataFrame(rows, schema)).collect()}

    assert (got["NOFUEL00000000001"].l_per_100km, got["NOFUEL00000000001"].rank) == (None, None)
    assert got["NOODO000000000001"].distance_km == 0.0
    assert got["NOODO000000000001"].rank is None
    assert got[VIN].rank == 1  # the only car with a figure leads, nobody with 0 l/100 km
