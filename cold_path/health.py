"""Transform: the vehicle health summary, from what the cars themselves reported.

Per vehicle over the period: the trouble codes it reported, the hottest
coolant, the lowest oil pressure with the engine running, the lowest tyre
pressure, the lowest battery voltage at rest, and the minutes it spent in
each of the conditions the hot path alerts on (readings of the condition
times the car's reporting interval). It answers "what went wrong with this
car last week" from the master dataset, whether or not anyone watched the
alerts then.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from fleet.metrics import (
    BATTERY_LOW_V,
    COOLANT_HOT_C,
    FUEL_LOW_PERCENT,
    OIL_LOW_KPA_PER_1000_RPM,
    OIL_LOW_MIN_KPA,
)
from fleet.telemetry import TYRES


def health_summary(events: DataFrame) -> DataFrame:
    order = Window.partitionBy("vin").orderBy("event_time", "seq")
    gap = F.col("event_time").cast("double") - F.lag("event_time").over(order).cast("double")
    running = F.col("engine_speed") > 0
    oil_floor = F.greatest(
        F.lit(OIL_LOW_MIN_KPA), F.col("engine_speed") / 1000 * OIL_LOW_KPA_PER_1000_RPM
    )
    conditions = {
        "overheat_min": F.col("coolant_temp") > COOLANT_HOT_C,
        "oil_low_min": running & (F.col("oil_pressure") < oil_floor),
        "fuel_low_min": F.col("fuel_level") < FUEL_LOW_PERCENT,
        "battery_low_min": ~running & (F.col("battery_voltage") < BATTERY_LOW_V),
    }
    readings = events.withColumn("_dt", F.least(F.coalesce(gap, F.lit(0.0)), F.lit(60.0)))
    for name, condition in conditions.items():
        readings = readings.withColumn(name, F.when(condition, F.col("_dt")).otherwise(0.0))
    lowest_tyre = F.least(*[F.col(t) for t in TYRES])
    return readings.groupBy("vin").agg(
        F.array_sort(F.array_distinct(F.flatten(F.collect_list(
            F.coalesce("dtcs", F.array().cast("array<string>")))))).alias("dtcs"),
        F.max("coolant_temp").alias("max_coolant_c"),
        F.min(F.when(running, F.col("oil_pressure"))).alias("min_oil_kpa"),
        F.min(lowest_tyre).alias("min_tyre_kpa"),
        F.min(F.when(~running, F.col("battery_voltage"))).alias("min_battery_rest_v"),
        *[(F.sum(name) / 60).alias(name) for name in conditions],
    )  # fmt: skip
