"""Route statistics and per-class efficiency on small hand-made DataFrames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from cold_path.routes import class_efficiency, route_ranking, trip_routes

T0 = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
SMALL, VAN = "WF1AAAAA0NA000001", "WF4AAAAA0NA000002"


def drive(vin: str, trip: str | None, segments: list[str], start_s: int) -> list[Row]:
    return [
        Row(
            vin=vin,
            trip_id=trip,
            segment_id=seg,
            event_time=T0 + timedelta(seconds=start_s + 10 * i),
        )
        for i, seg in enumerate(segments)
    ]


def test_a_route_is_the_roads_driven_in_order_and_cut_off_trips_do_not_count(spark):
    events = spark.createDataFrame(
        drive(SMALL, "a", ["town:main:00", "town:main:01", "ring:east:00", "ring:east:01"], 0)
        + drive(SMALL, None, [None], 100)  # parked after the trip: the trip is complete
        + drive(VAN, "b", ["town:main:00", "town:main:01"], 0),  # data ends mid-trip
        schema="vin string, trip_id string, segment_id string, event_time timestamp",
    )
    trips = spark.createDataFrame(
        [Row(vin=SMALL, trip_id="a", origin="depot", destination="airport", distance_km=9.0,
             duration_s=30.0, fuel_used_l=0.9, l_per_100km=10.0),
         Row(vin=VAN, trip_id="b", origin="depot", destination="airport", distance_km=2.0,
             duration_s=10.0, fuel_used_l=0.2, l_per_100km=10.0)]
    )  # fmt: skip

    got = trip_routes(events, trips).select("vin", "trip_id", "route", "hour")

    assertDataFrameEqual(got, [Row(vin=SMALL, trip_id="a", route="town:main+ring:east", hour=7)])


def test_routes_are_ranked_by_fuel_and_by_time_and_the_frugal_one_is_recommended(spark):
    routes = spark.createDataFrame(
        [Row(origin="depot", destination="airport", route=r, duration_s=t, fuel_used_l=f,
             distance_km=d)
         for r, t, f, d in [("direct", 900.0, 1.0, 10.0), ("direct", 1100.0, 1.2, 10.0),
                            ("motorway", 600.0, 1.5, 14.0), ("ring", 800.0, 1.3, 12.0)]]
    )  # fmt: skip

    got = route_ranking(routes).select("route", "trips", "mean_fuel_l", "rank_fuel", "rank_time",
                                       "recommended")  # fmt: skip

    assertDataFrameEqual(
        got,
        [Row(route="direct", trips=2, mean_fuel_l=1.1, rank_fuel=1, rank_time=3, recommended=True),
         Row(route="ring", trips=1, mean_fuel_l=1.3, rank_fuel=2, rank_time=2, recommended=False),
         Row(route="motorway", trips=1, mean_fuel_l=1.5, rank_fuel=3, rank_time=1,
             recommended=False)],
        rtol=1e-9,
    )  # fmt: skip


def test_class_efficiency_weighs_each_car_by_its_distance(spark):
    vehicles = spark.createDataFrame(
        [Row(vin=SMALL, distance_km=100.0, fuel_used_l=5.0),
         Row(vin="WF1BBBBB0NA000003", distance_km=300.0, fuel_used_l=21.0),
         Row(vin=VAN, distance_km=50.0, fuel_used_l=5.0),
         Row(vin="ZZZCCCCC0NA000004", distance_km=10.0, fuel_used_l=1.0)]
    )  # fmt: skip

    got = class_efficiency(vehicles).select("vehicle_class", "vehicles", "l_per_100km")

    assertDataFrameEqual(
        got,
        [Row(vehicle_class="small_petrol", vehicles=2, l_per_100km=6.5),
         Row(vehicle_class="van_diesel", vehicles=1, l_per_100km=10.0),
         Row(vehicle_class="unknown", vehicles=1, l_per_100km=10.0)],
        rtol=1e-9,
    )  # fmt: skip
