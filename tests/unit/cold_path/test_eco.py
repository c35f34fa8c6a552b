"""The eco-score on hand-made readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import Row

from cold_path.eco import eco_scores

T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)


def readings(vin: str, rows: list[tuple[float, float, float, float]]) -> list[Row]:
    """(odometer, speed km/h, acceleration m/s^2, engine rpm) every 10 s on one segment."""
    return [
        Row(vin=vin, seq=i, event_time=T0 + timedelta(seconds=10 * i), segment_id="ring:1",
            odometer=odo, speed=speed, acceleration=acc, engine_speed=rpm)
        for i, (odo, speed, acc, rpm) in enumerate(rows)
    ]  # fmt: skip


def test_harsh_episodes_speeding_and_idling_make_the_score(spark):
    calm = [(i * 1.0, 50.0, 0.5, 2000.0) for i in range(11)]  # 10 km at the flow's speed
    rough = [
        (0.0, 0.0, 0.0, 800.0),  # idling
        (1.0, 50.0, 3.0, 3000.0), (2.0, 50.0, 3.2, 3000.0),  # one harsh launch, two readings
        (3.0, 50.0, 0.0, 2000.0),
        (4.0, 50.0, -4.0, 1500.0),  # harsh braking
        (5.0, 90.0, 0.0, 2500.0),  # well over the flow
        (10.0, 50.0, 0.0, 2000.0),
    ]  # fmt: skip
    df = spark.createDataFrame(
        readings("CALM0000000000001", calm) + readings("ROUGH000000000001", rough)
    )

    got = {r.vin: r for r in eco_scores(df).collect()}

    assert got["CALM0000000000001"].eco_score == pytest.approx(100.0)
    r = got["ROUGH000000000001"]
    assert r.harsh_events == 2
    assert r.harsh_per_100km == pytest.approx(20.0)  # 2 episodes in 10 km
    assert r.speeding_share == pytest.approx(1 / 6)  # 1 of 6 moving readings
    assert r.idling_share == pytest.approx(1 / 7)
    assert r.eco_score == pytest.approx(max(0.0, 100 - 200 - 100 / 6 - 50 / 7))


def test_each_habit_weighs_as_documented(spark):
    # One harsh launch in 20 km (5 per 100 km) and an idling reading: no speeding.
    mild = [(0.0, 0.0, 0.0, 800.0), (2.0, 50.0, 3.0, 3000.0)] + [
        (4.0 + 2 * i, 50.0, 0.0, 2000.0) for i in range(9)
    ]
    df = spark.createDataFrame(readings("MILD0000000000001", mild))

    (got,) = eco_scores(df).collect()

    assert (got.harsh_per_100km, got.speeding_share) == (pytest.approx(5.0), 0.0)
    assert got.idling_share == pytest.approx(1 / 11)
    assert got.eco_score == pytest.approx(100 - 10 * 5.0 - 50 / 11)
