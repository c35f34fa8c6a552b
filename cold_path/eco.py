"""Transform: the driver eco-score per vehicle.

Three habits, each measured on the car's own readings:

- **harsh events per 100 km**: episodes (consecutive readings) of acceleration
  at or above `fleet.metrics.HARSH_ACCEL_MPS2` or braking at or beyond
  `HARSH_BRAKE_MPS2`, per 100 km driven;
- **speeding share**: moving readings faster than 1.1 x the 85th-percentile
  speed of all cars on the same road segment in the same hour of day. Records
  carry no speed limit, and the 85th-percentile speed is what traffic
  engineers set limits from;
- **idling share**: readings with the engine running and the car standing,
  out of all readings with the engine running.

``eco_score = 100 - 10 * harsh_per_100km - 100 * speeding_share - 50 * idling_share``,
clamped to 0..100: one harsh event every 10 km alone brings a car to 0,
speeding half the time alone to 50; a calm driver who never idles scores 100.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from fleet.metrics import HARSH_ACCEL_MPS2, HARSH_BRAKE_MPS2

SPEEDING_FACTOR = 1.1


def _share(part: str, whole: str) -> Column:
    return F.when(F.col(whole) > 0, F.col(part) / F.col(whole)).otherwise(0.0)


def eco_scores(events: DataFrame) -> DataFrame:
    order = Window.partitionBy("vin").orderBy("event_time", "seq")
    harsh = (F.col("acceleration") >= HARSH_ACCEL_MPS2) | (
        F.col("acceleration") <= -HARSH_BRAKE_MPS2
    )
    flow = (
        events.where((F.col("speed") > 0) & F.col("segment_id").isNotNull())
        .groupBy("segment_id", F.hour("event_time").alias("hour"))
        .agg(F.percentile_approx("speed", 0.85).alias("p85"))
    )
    readings = (
        events.withColumn("hour", F.hour("event_time"))
        .join(flow, ["segment_id", "hour"], "left")
        .withColumn("_harsh", F.coalesce(harsh, F.lit(False)))
        .withColumn(
            "_episode",
            F.col("_harsh") & ~F.coalesce(F.lag("_harsh").over(order), F.lit(False)),
        )
        .withColumn("_moving", F.col("speed") > 0)
        .withColumn(
            "_speeding", F.col("_moving") & (F.col("speed") > F.col("p85") * SPEEDING_FACTOR)
        )
        .withColumn("_running", F.col("engine_speed") > 0)
        .withColumn("_idling", F.col("_running") & (F.col("speed") == 0))
    )
    per_car = readings.groupBy("vin").agg(
        (F.max("odometer") - F.min("odometer")).alias("distance_km"),
        F.sum(F.col("_episode").cast("int")).alias("harsh_events"),
        F.sum(F.col("_moving").cast("int")).alias("_moving_n"),
        F.sum(F.coalesce(F.col("_speeding"), F.lit(False)).cast("int")).alias("_speeding_n"),
        F.sum(F.coalesce(F.col("_running"), F.lit(False)).cast("int")).alias("_running_n"),
        F.sum(F.coalesce(F.col("_idling"), F.lit(False)).cast("int")).alias("_idling_n"),
    )
    scored = (
        per_car.withColumn(
            "harsh_per_100km",
            F.when(
                F.col("distance_km") > 0, F.col("harsh_events") / F.col("distance_km") * 100
            ).otherwise(0.0),
        )
        .withColumn("speeding_share", _share("_speeding_n", "_moving_n"))
        .withColumn("idling_share", _share("_idling_n", "_running_n"))
        .withColumn(
            "eco_score",
            F.greatest(
                F.lit(0.0),
                F.least(
                    F.lit(100.0),
                    100
                    - 10 * F.col("harsh_per_100km")
                    - 100 * F.col("speeding_share")
                    - 50 * F.col("idling_share"),
                ),
            ),
        )  # fmt: skip
    )
    return scored.select(
        "vin", "distance_km", F.col("harsh_events").cast("int").alias("harsh_events"),
        "harsh_per_100km", "speeding_share", "idling_share", "eco_score",
    )  # fmt: skip
