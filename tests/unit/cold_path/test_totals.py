"""The batch's half of the Lambda merge: `fleet.metrics.increment` summed up to the speed layer."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from cold_path.totals import Arrival, CarTotals, car_totals, vehicle_totals
from fleet.metrics import Reading, increment
from fleet.telemetry import TelemetryEvent
from hot_path.speed import advance, bucket_start

VIN = "1HGCM82633A004352"
OTHER = "WVWZZZ1JZXW000001"
T0 = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
EPOCH0 = T0.timestamp()


def drive(n: int, *, refuel_at: int | None = None) -> list[tuple[int, float, float, float]]:
    """(seq, event time, odometer, fuel litres) of a car reporting every 10 s."""
    out = []
    litres, odometer = 40.0, 1000.0
    for i in range(n):
        if refuel_at is not None and refuel_at <= i < refuel_at + 4:
            litres += 6.0  # a pump at 0.6 l/s, the car parked
        elif i:
            litres -= 0.03 + 0.01 * (i % 3)
            odometer += 0.25
        out.append((i, EPOCH0 + 10 * i, round(odometer, 2), round(litres, 2)))
    return out


def arrivals(readings: list[tuple[int, float, float, float]], order: list[int]) -> list[Arrival]:
    """The readings in Kafka order: ``order`` lists seqs, a seq twice is a duplicate."""
    by_seq = {r[0]: r for r in readings}
    return [
        Arrival(seq, 0, offset, by_seq[seq][1], by_seq[seq][2], by_seq[seq][3], 50.0, 0.0)
        for offset, seq in enumerate(order)
    ]


def full_sum(arrived: list[Arrival], *, upto: float | None = None) -> tuple[float, float]:
    """The definition spelled out: de-duplicate, sort by event time, sum `increment`."""
    chain = sorted({a.seq: a for a in reversed(arrived)}.values(), key=lambda a: (a.t, a.seq))
    distance = fuel = 0.0
    prev = None
    for a in chain:
        if upto is not None and a.t > upto:
            break
        cur = Reading(a.t, a.odometer, a.fuel_litres, a.speed, a.acceleration)
        step = increment(prev, cur)
        distance, fuel, prev = distance + step.distance_km, fuel + step.fuel_used_l, cur
    return distance, fuel


def speed_layer(arrived: list[Arrival], *, bucket_s: int = 60) -> dict[float, tuple[float, float]]:
    """What the hot path's bookkeeping adds per bucket, record by record in Kafka order."""
    track = None
    buckets: dict[float, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for a in sorted(arrived, key=lambda a: (a.partition, a.offset)):
        ev = TelemetryEvent(
            vin=VIN, seq=a.seq, event_time=datetime.fromtimestamp(a.t, tz=UTC),
            odometer=a.odometer, fuel_litres=a.fuel_litres, speed=a.speed,
            acceleration=a.acceleration,
        )  # fmt: skip
        track, _, inc = advance(track, ev)
        if inc is not None:
            b = buckets[bucket_start(a.t, bucket_s)]
            b[0] += inc.distance_km
            b[1] += inc.fuel_used_l
    return {k: (v[0], v[1]) for k, v in buckets.items()}


def merged(arrived: list[Arrival], cut: float) -> tuple[float, float]:
    batch = car_totals(arrived, cut)
    assert batch is not None
    speed = [v for k, v in speed_layer(arrived).items() if k >= cut]
    return (
        batch.distance_km + sum(d for d, _ in speed),
        batch.fuel_used_l + sum(f for _, f in speed),
    )


def test_in_order_readings_sum_every_pair_before_the_cut() -> None:
    readings = drive(30)
    arrived = arrivals(readings, list(range(30)))
    cut = EPOCH0 + 120  # readings 0..11 are before it

    got = car_totals(arrived, cut)

    assert got is not None
    assert got.through == EPOCH0 + 110 and got.readings == 12
    assert (got.distance_km, got.fuel_used_l) == pytest.approx(full_sum(arrived, upto=EPOCH0 + 110))
    assert got.distance_km == pytest.approx(11 * 0.25)


def test_duplicates_and_overtaken_readings_count_once() -> None:
    readings = drive(20)
    order = [0, 1, 2, 2, 4, 3, 5, 6, 6, 6, 7, 9, 8, *range(10, 20)]  # 3 and 8 overtaken
    arrived = arrivals(readings, order)

    got = car_totals(arrived, EPOCH0 + 1000)

    assert got is not None and got.readings == 20
    assert (got.distance_km, got.fuel_used_l) == pytest.approx(full_sum(arrived))
    assert (got.distance_km, got.fuel_used_l) == pytest.approx(
        full_sum(arrivals(readings, list(range(20))))
    )


def test_a_refuel_is_fuel_going_in_not_negative_use() -> None:
    readings = drive(20, refuel_at=8)
    arrived = arrivals(readings, list(range(20)))

    got = car_totals(arrived, EPOCH0 + 1000)

    assert got is not None
    drained = sum(0.03 + 0.01 * (i % 3) for i in range(1, 20) if not 8 <= i < 12)
    assert got.fuel_used_l == pytest.approx(drained, abs=0.03)  # the gauge's 0.01 l steps
    assert got.fuel_used_l == pytest.approx(full_sum(arrived)[1])


def test_the_batch_stops_where_the_speed_layer_takes_over_when_a_late_reading_is_at_the_cut() -> (
    None
):
    # Reading 11 (event time 110 s) arrives after 12 and 13: the speed layer adds 10 -> 12 to
    # the bucket of reading 12 (120 s, on the speed side of a cut at 120 s).
    readings = drive(30)
    order = [*range(11), 12, 13, 11, *range(14, 30)]
    arrived = arrivals(readings, order)
    cut = EPOCH0 + 120

    got = car_totals(arrived, cut)

    assert got == CarTotals(*full_sum(arrived, upto=EPOCH0 + 100), 11, EPOCH0 + 100)
    assert merged(arrived, cut) == pytest.approx(full_sum(arrived), rel=1e-12)
    # Cutting at the watermark itself would count 10 -> 11 in both layers.
    naive = full_sum(arrived, upto=EPOCH0 + 110)[0] + sum(
        d for k, (d, _) in speed_layer(arrived).items() if k >= cut
    )
    assert naive == pytest.approx(full_sum(arrived)[0] + 0.25)


@pytest.mark.parametrize("cut_s", [60, 120, 180, 240])
def test_batch_plus_speed_is_the_full_sum_wherever_the_cut_falls(cut_s: int) -> None:
    readings = drive(30, refuel_at=15)
    order = [0, 2, 1, 3, 4, 4, 6, 7, 5, 8, 9, 11, 12, 10, 13, 14, 17, 15, 16, 18, 19, 19,
             21, 20, 22, 23, 24, 26, 25, 27, 28, 29]  # fmt: skip
    arrived = arrivals(readings, order)

    assert merged(arrived, EPOCH0 + cut_s) == pytest.approx(full_sum(arrived), rel=1e-12)


def test_a_car_with_only_late_readings_before_the_cut_has_a_zero_half() -> None:
    readings = drive(10)
    arrived = arrivals(readings, [5, 6, 0, 1, 7, 8, 9])  # first arrival already past the cut

    assert car_totals(arrived, EPOCH0 + 50) == CarTotals(0.0, 0.0, 0, None)
    assert car_totals(arrived, EPOCH0) is None  # nothing before the cut: not in the view


def test_spark_transform_calls_the_same_function_per_car(spark: SparkSession) -> None:
    refuelling = drive(24, refuel_at=9)
    steady = drive(24)
    order = [0, 1, 3, 2, 4, 4, 5, 6, 8, 9, 7, *range(10, 24)]
    cars = {VIN: arrivals(refuelling, order), OTHER: arrivals(steady, list(range(24)))}
    rows = [
        Row(vin=vin, seq=a.seq, partition=a.partition, offset=a.offset,
            event_time=datetime.fromtimestamp(a.t, tz=UTC), odometer=a.odometer,
            fuel_litres=a.fuel_litres, speed=a.speed, acceleration=a.acceleration)
        for vin, arrived in cars.items() for a in arrived
    ]  # fmt: skip
    events = spark.createDataFrame(rows)
    watermark = T0 + timedelta(seconds=200)

    got = vehicle_totals(events, watermark=watermark)

    expected = []
    for vin, arrived in cars.items():
        t = car_totals(arrived, watermark.timestamp())
        assert t is not None
        expected.append(
            Row(vin=vin, distance_km=t.distance_km, fuel_used_l=t.fuel_used_l,
                readings=t.readings, through=t.through)
        )  # fmt: skip
    # collect() hands timestamps back naive: compare them as epoch seconds.
    assertDataFrameEqual(got.withColumn("through", F.col("through").cast("double")), expected)
    by_vin = {r.vin: r for r in got.collect()}
    assert by_vin[OTHER].distance_km == pytest.approx(19 * 0.25)  # 0..19 before 200 s
    assert by_vin[VIN].readings == 20 and by_vin[VIN].fuel_used_l == pytest.approx(
        full_sum(cars[VIN], upto=EPOCH0 + 190)[1]
    )
