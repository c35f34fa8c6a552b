"""Transform: route optimisation statistics and per-class efficiency.

A trip's route is the sequence of roads it drove. Segment ids are
``<road>:<piece>`` (the navigation system's road id, then the piece of it),
so a route is the distinct roads of a trip in the order driven, joined by
``+``. Only complete trips count toward route costs: a trip cut off by the
watermark (or by the end of the data) would look short and cheap.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from fleet.registry import CLASS_BY_WMI


def trip_routes(events: DataFrame, trips: DataFrame) -> DataFrame:
    """Complete trips with their route and start hour, joined to their fuel and time."""
    driven = events.where(F.col("trip_id").isNotNull() & F.col("segment_id").isNotNull())
    roads = (
        driven.withColumn("road", F.regexp_replace("segment_id", r":[^:]*$", ""))
        .groupBy("vin", "trip_id", "road")
        .agg(F.min("event_time").alias("entered"))
        .groupBy("vin", "trip_id")
        .agg(F.array_sort(F.collect_list(F.struct("entered", "road"))).alias("_roads"))
        .withColumn("route", F.array_join(F.transform("_roads", lambda r: r["road"]), "+"))
        .drop("_roads")
    )
    spans = events.groupBy("vin").agg(F.max("event_time").alias("_vehicle_last"))
    bounds = driven.groupBy("vin", "trip_id").agg(
        F.min("event_time").alias("started"), F.max("event_time").alias("_trip_last")
    )
    complete = (
        bounds.join(spans, "vin")
        .where(F.col("_trip_last") < F.col("_vehicle_last"))
        .withColumn("hour", F.hour("started"))
        .drop("_trip_last", "_vehicle_last")
    )
    # A trip without a fuel figure (no gauge readings) cannot rank a route.
    measured = trips.where(F.col("l_per_100km").isNotNull())
    return complete.join(roads, ["vin", "trip_id"]).join(
        measured.select("vin", "trip_id", "origin", "destination", "distance_km", "duration_s",
                        "fuel_used_l"),
        ["vin", "trip_id"],
    )  # fmt: skip


def route_ranking(routes: DataFrame) -> DataFrame:
    """Per origin-destination pair, each observed route's mean time and fuel, ranked.

    The recommendation is the route with the least mean fuel; time breaks ties.
    """
    per_route = routes.groupBy("origin", "destination", "route").agg(
        F.count("*").cast("int").alias("trips"),
        F.avg("duration_s").alias("mean_duration_s"),
        F.avg("fuel_used_l").alias("mean_fuel_l"),
        F.avg("distance_km").alias("mean_distance_km"),
    )
    pair = Window.partitionBy("origin", "destination")
    return (
        per_route.withColumn(
            "rank_fuel",
            F.row_number().over(pair.orderBy("mean_fuel_l", "mean_duration_s", "route")),
        )
        .withColumn(
            "rank_time",
            F.row_number().over(pair.orderBy("mean_duration_s", "mean_fuel_l", "route")),
        )
        .withColumn("recommended", F.col("rank_fuel") == 1)
    )


def segment_hour_stats(events: DataFrame) -> DataFrame:
    """Per road segment and hour of day: samples, speed distribution and time spent."""
    moving = events.where(F.col("segment_id").isNotNull() & F.col("speed").isNotNull())
    passes = moving.groupBy("vin", "trip_id", "segment_id").agg(
        (F.max("event_time").cast("double") - F.min("event_time").cast("double")).alias("_time"),
        F.hour(F.min("event_time")).alias("hour"),
    )
    speeds = (
        moving.withColumn("hour", F.hour("event_time"))
        .groupBy("segment_id", "hour")
        .agg(
            F.count("*").cast("int").alias("samples"),
            F.avg("speed").alias("mean_speed_kmh"),
            F.percentile_approx("speed", 0.5).alias("p50_speed_kmh"),
            F.percentile_approx("speed", 0.9).alias("p90_speed_kmh"),
        )
    )
    times = passes.groupBy("segment_id", "hour").agg(
        F.count("*").cast("int").alias("passes"),
        F.percentile_approx("_time", 0.5).alias("p50_time_s"),
        F.percentile_approx("_time", 0.9).alias("p90_time_s"),
    )
    return speeds.join(times, ["segment_id", "hour"], "left")


def with_class(df: DataFrame) -> DataFrame:
    """Add ``vehicle_class`` from the VIN's maker (fleet.registry)."""
    mapping = F.create_map(*[F.lit(x) for pair in CLASS_BY_WMI.items() for x in pair])
    return df.withColumn("vehicle_class", mapping[F.substring("vin", 1, 3)])


def class_efficiency(vehicles: DataFrame) -> DataFrame:
    """Per vehicle class: vehicles, distance, fuel and l/100 km over the class's whole distance."""
    return (
        with_class(vehicles)
        .groupBy(F.coalesce("vehicle_class", F.lit("unknown")).alias("vehicle_class"))
        .agg(
            F.count("*").cast("int").alias("vehicles"),
            F.sum("distance_km").alias("distance_km"),
            F.sum("fuel_used_l").alias("fuel_used_l"),
        )
        .withColumn(
            "l_per_100km",
            F.when(F.col("distance_km") > 0, F.col("fuel_used_l") / F.col("distance_km") * 100),
        )
    )
