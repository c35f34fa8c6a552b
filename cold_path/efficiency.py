"""Transform: fuel efficiency per vehicle and per trip, refuel- and noise-aware.

Fuel used is not "first level minus last level" (that reads every refuel as
negative consumption). Each car's readings, in event-time order, are cut into
stretches at every refuel (a run of rising readings that adds up to more than
`REFUEL_MIN_LITRES`; each reading of the run starts a stretch of its own, which
burns nothing); within a stretch the tank only drains, so the fuel used is the level at its start
minus the level at its end. The gauge is noisy, so each end is the mean of
the first or last ``smoothing`` readings of the stretch. Those means sit
``(smoothing - 1) / 2`` readings inside the stretch, so their difference is
carried out to the stretch's ends along the drain per reading they imply,
``(start - end) / (n - smoothing)`` for a stretch of ``n`` readings; a stretch
no longer than ``smoothing`` uses its first and last reading as they are. The
refuelled litres are the jumps between those extrapolated ends.

Distance is the odometer's span (it only counts up). Efficiency is
``fuel_used / distance * 100`` in l/100 km, left empty below
`MIN_DISTANCE_KM`, where it would be noise.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from fleet.metrics import FUEL_RISE_EPSILON_LITRES, MIN_DISTANCE_KM, REFUEL_MIN_LITRES


def _stretches(events: DataFrame, keys: list[str], smoothing: int) -> DataFrame:
    """One row per refuel-free stretch of each ``keys`` group: start and end levels."""
    order = Window.partitionBy(*keys).orderBy("event_time", "seq")
    upto_here = order.rowsBetween(Window.unboundedPreceding, 0)
    # A pump adds fuel over many readings (0.6 l/s is 3 l between two readings
    # 5 s apart, 0.6 l at 1 Hz): a refuel is a run of rising readings whose
    # total rise passes REFUEL_MIN_LITRES. Shorter rises are gauge noise.
    rising = (
        events.where(F.col("fuel_litres").isNotNull())
        .withColumn("_step", F.col("fuel_litres") - F.lag("fuel_litres").over(order))
        .withColumn("_up", F.coalesce(F.col("_step") > FUEL_RISE_EPSILON_LITRES, F.lit(False)))
        .withColumn(
            "_run_start", F.col("_up") & ~F.coalesce(F.lag("_up").over(order), F.lit(False))
        )
        .withColumn("_run", F.sum(F.col("_run_start").cast("int")).over(upto_here))
    )
    run_rise = Window.partitionBy(*keys, "_run", "_up")
    readings = (
        rising.withColumn("_run_total", F.sum("_step").over(run_rise))
        .withColumn(
            "_refuel", (F.col("_up") & (F.col("_run_total") > REFUEL_MIN_LITRES)).cast("int")
        )
        .withColumn("stretch", F.sum("_refuel").over(upto_here))
    )
    by_stretch = Window.partitionBy(*keys, "stretch")
    half = (smoothing - 1) / 2
    return (
        readings.withColumn("_asc", F.row_number().over(by_stretch.orderBy("event_time", "seq")))
        .withColumn(
            "_desc", F.row_number().over(by_stretch.orderBy(F.desc("event_time"), F.desc("seq")))
        )
        .groupBy(*keys, "stretch")
        .agg(
            F.count("*").alias("n"),
            # A stretch opened by the first reading of a refuel run counts one refuel.
            F.max((F.col("_refuel") == 1) & F.col("_run_start")).cast("int").alias("_opens_refuel"),
            F.avg(F.when(F.col("_asc") <= smoothing, F.col("fuel_litres"))).alias("_start_mean"),
            F.avg(F.when(F.col("_desc") <= smoothing, F.col("fuel_litres"))).alias("_end_mean"),
            F.max(F.when(F.col("_asc") == 1, F.col("fuel_litres"))).alias("_first"),
            F.max(F.when(F.col("_desc") == 1, F.col("fuel_litres"))).alias("_last"),
        )
        # Drain per reading, from the two means (n - smoothing readings apart); each
        # mean is then carried (smoothing - 1) / 2 readings out to its end.
        .withColumn(
            "_drain",
            F.when(
                F.col("n") > smoothing,
                (F.col("_start_mean") - F.col("_end_mean")) / (F.col("n") - smoothing),
            ),
        )
        .withColumn(
            "start_l",
            F.coalesce(F.col("_start_mean") + F.col("_drain") * half, F.col("_first")),
        )
        .withColumn(
            "end_l", F.coalesce(F.col("_end_mean") - F.col("_drain") * half, F.col("_last"))
        )
        .withColumn("used_l", F.greatest(F.col("start_l") - F.col("end_l"), F.lit(0.0)))
    )


def _refuelled(stretches: DataFrame, keys: list[str]) -> DataFrame:
    order = Window.partitionBy(*keys).orderBy("stretch")
    return (
        stretches.withColumn("_gain", F.col("start_l") - F.lag("end_l").over(order))
        .groupBy(*keys)
        .agg(
            F.sum("used_l").alias("fuel_used_l"),
            F.coalesce(F.sum(F.greatest("_gain", F.lit(0.0))), F.lit(0.0)).alias("refuelled_l"),
            F.sum("_opens_refuel").cast("int").alias("refuels"),
        )
    )


def _with_efficiency(df: DataFrame) -> DataFrame:
    # No fuel readings at all is no figure, not zero litres: such a car must not
    # top the leaderboard (nor such a trip make a route look cheapest).
    return df.withColumn(
        "l_per_100km",
        F.when(
            (F.col("distance_km") >= MIN_DISTANCE_KM) & F.col("fuel_used_l").isNotNull(),
            F.col("fuel_used_l") / F.col("distance_km") * 100,
        ),
    ).fillna(0.0, ["fuel_used_l"])


def vehicle_efficiency(events: DataFrame, *, smoothing: int = 5) -> DataFrame:
    """Per VIN: distance, fuel used, refuels, l/100 km and the fleet rank (1 = most frugal)."""
    spans = events.groupBy("vin").agg(
        # A car that never reported its odometer drove no distance we can see.
        F.coalesce(F.max("odometer") - F.min("odometer"), F.lit(0.0)).alias("distance_km"),
        F.min("event_time").alias("first_event"),
        F.max("event_time").alias("last_event"),
    )
    fuel = _refuelled(_stretches(events, ["vin"], smoothing), ["vin"])
    joined = _with_efficiency(spans.join(fuel, "vin", "left"))
    rank = Window.orderBy(F.col("l_per_100km").asc_nulls_last(), "vin")
    return joined.withColumn(
        "rank", F.when(F.col("l_per_100km").isNotNull(), F.row_number().over(rank))
    ).select(
        "vin", "distance_km", "fuel_used_l",
        F.coalesce("refuelled_l", F.lit(0.0)).alias("refuelled_l"),
        F.coalesce("refuels", F.lit(0)).alias("refuels"),
        "l_per_100km", "rank", "first_event", "last_event",
    )  # fmt: skip


def trip_efficiency(events: DataFrame, *, smoothing: int = 5) -> DataFrame:
    """Per (VIN, trip): origin, destination, distance, duration, fuel used and l/100 km."""
    trips = events.where(F.col("trip_id").isNotNull())
    keys = ["vin", "trip_id"]
    spans = trips.groupBy(*keys).agg(
        F.first("origin", ignorenulls=True).alias("origin"),
        F.first("destination", ignorenulls=True).alias("destination"),
        F.coalesce(F.max("odometer") - F.min("odometer"), F.lit(0.0)).alias("distance_km"),
        (F.max("event_time").cast("double") - F.min("event_time").cast("double")).alias(
            "duration_s"
        ),
    )
    fuel = _refuelled(_stretches(trips, keys, smoothing), keys)
    return _with_efficiency(spans.join(fuel.select(*keys, "fuel_used_l"), keys, "left"))
