"""The vehicle health summary on hand-made readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import Row

from cold_path.dataset import SCHEMA
from cold_path.health import health_summary

T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)
KAFKA_ONLY = ("raw", "key", "valid", "error_reason", "error_field", "topic", "kafka_timestamp")
COLUMNS = [f.name for f in SCHEMA if f.name not in KAFKA_ONLY]


def reading(i: int, **signals) -> dict:
    base = dict.fromkeys(COLUMNS)
    base.update(vin="WF1AAAAA0NA000001", seq=i, partition=0, offset=i,
                event_time=T0 + timedelta(seconds=30 * i), coolant_temp=90.0, engine_speed=2000.0,
                oil_pressure=300.0, fuel_level=50.0, battery_voltage=14.1, dtcs=None,
                tyre_front_left=230.0, tyre_front_right=230.0, tyre_rear_left=230.0,
                tyre_rear_right=230.0)  # fmt: skip
    base.update(signals)
    return base


def test_the_summary_counts_minutes_in_each_condition_and_the_codes_seen(spark):
    from pyspark.sql.pandas.types import from_arrow_schema

    rows = [
        reading(0),
        reading(1, coolant_temp=115.0),  # 30 s hot
        reading(2, coolant_temp=118.0, dtcs=["P0217"]),  # 30 s more
        reading(3, oil_pressure=50.0),  # 50 kPa at 2000 rpm: under 140
        reading(4, engine_speed=0.0, oil_pressure=0.0, battery_voltage=11.9),  # at rest, weak
        reading(5, tyre_rear_left=150.0, dtcs=["P0217", "C0035"]),
    ]
    schema = from_arrow_schema(SCHEMA.remove(SCHEMA.get_field_index("raw")))
    df = spark.createDataFrame([Row(**{k: r.get(k) for k in schema.names}) for r in rows], schema)

    (got,) = health_summary(df).collect()

    assert got.dtcs == ["C0035", "P0217"]
    assert got.overheat_min == pytest.approx(1.0)
    assert got.oil_low_min == pytest.approx(0.5)
    assert got.battery_low_min == pytest.approx(0.5)
    assert got.fuel_low_min == 0
    assert (got.max_coolant_c, got.min_tyre_kpa, got.min_battery_rest_v) == (118.0, 150.0, 11.9)
    assert got.min_oil_kpa == 50.0  # the engine-off zero does not count
