"""``python -m cold_path batch``: recompute every batch view from the whole master dataset.

Extract (readable files, valid and de-duplicated events) -> watermark ->
transform (pure DataFrame functions) -> load (a new version of the views,
published atomically with its watermark).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from sqlalchemy import Engine, Table, delete, insert, update

from cold_path.config import ColdPathSettings
from cold_path.eco import eco_scores
from cold_path.efficiency import trip_efficiency, vehicle_efficiency
from cold_path.extract import extract
from cold_path.health import health_summary
from cold_path.routes import (
    class_efficiency,
    route_ranking,
    segment_hour_stats,
    trip_routes,
    with_class,
)
from cold_path.totals import vehicle_totals
from fleet import store
from fleet.errors import FleetError
from fleet.store import batch_current, batch_runs, current_version

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchResult:
    version: int
    watermark: datetime | None
    events: int
    vehicles: int
    excluded_files: list[tuple[str, str]]


def watermark(events: DataFrame, lag_s: float, align_s: int = 60) -> datetime | None:
    """The event time up to which the dataset is taken as complete.

    Each Kafka partition is archived on its own, so the dataset is complete
    only up to the partition that is furthest behind: the smallest of the
    partitions' newest event times, less ``lag_s`` for records still in
    flight, floored to a multiple of ``align_s`` seconds. Serving adds the
    speed layer's buckets from the watermark on, so it must fall on a bucket
    boundary: a bucket it cut in two could be neither counted nor skipped.
    """
    row = (
        events.groupBy("partition")
        .agg(F.max("event_time").alias("newest"))
        .agg(F.min("newest").alias("complete"))
        .first()
    )
    if row is None or row.complete is None:
        return None
    complete: datetime = _aware(row.complete) - timedelta(seconds=lag_s)
    whole = int(complete.timestamp())
    return datetime.fromtimestamp(whole - whole % align_s, tz=UTC)


class NothingToPublish(FleetError):
    """The run would replace good views with emptier or older ones."""


def _check_progress(engine: Engine, mark: datetime | None) -> None:
    # An empty dataset (a wrong path, every file excluded) or a watermark behind
    # the published one would replace good views with worse: refuse, keep them.
    if mark is None:
        raise NothingToPublish("no valid events in the master dataset: nothing published")
    published = current_version(engine)
    if published and published[1] and mark < published[1]:
        raise NothingToPublish(
            f"the dataset is complete only up to {mark}, behind the published watermark "
            f"{published[1]}: nothing published (is the master dataset the right one?)"
        )


def run(spark: SparkSession, engine: Engine, settings: ColdPathSettings) -> BatchResult:
    started = datetime.now(UTC)
    data = extract(spark, settings.master())
    mark = watermark(data.events, settings.watermark_lag_s, settings.watermark_align_s)
    _check_progress(engine, mark)
    events = data.events.where(F.col("event_time") < F.lit(mark)) if mark else data.events.limit(0)
    events = events.cache()
    count = events.count()
    vehicles_df = vehicle_efficiency(events, smoothing=settings.smoothing_readings).cache()
    trips_df = trip_efficiency(events, smoothing=settings.smoothing_readings).cache()
    views = {
        store.vehicle_efficiency: _rows(with_class(vehicles_df)),
        store.trip_efficiency: _rows(trips_df),
        store.class_efficiency: _rows(class_efficiency(vehicles_df)),
        store.route_rankings: _rows(route_ranking(trip_routes(events, trips_df))),
        store.segment_hour_stats: _rows(segment_hour_stats(events)),
        store.eco_scores: _rows(eco_scores(events)),
        store.health_summary: [
            {**r, "dtcs": " ".join(r["dtcs"])} for r in _rows(health_summary(events))
        ],
    }
    # The merge's batch half: every event, not only those before the watermark,
    # since later arrivals decide which earlier readings were late (cold_path.totals).
    views[store.vehicle_totals] = _rows(vehicle_totals(data.events, watermark=mark)) if mark else []
    vehicles = views[store.vehicle_efficiency]
    for df in (events, vehicles_df, trips_df):
        df.unpersist()
    version = publish(
        engine,
        views,
        started=started, watermark=mark, events=count, excluded=len(data.excluded),
        invalid=data.invalid,
    )  # fmt: skip
    log.info(
        "batch version %d: %d events up to %s, %d vehicles", version, count, mark, len(vehicles)
    )
    return BatchResult(version, mark, count, len(vehicles), data.excluded)


def _rows(df: DataFrame) -> list[dict[str, Any]]:
    # Views hold a row per vehicle or trip: small enough to go through the driver.
    return [{k: _aware(v) for k, v in r.asDict().items()} for r in df.collect()]


def _aware(value: Any) -> Any:
    # collect() hands timestamps back naive, in the driver's local time zone.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.astimezone(UTC)
    return value


def publish(
    engine: Engine,
    views: dict[Table, list[dict[str, Any]]],
    *,
    started: datetime,
    watermark: datetime | None,
    events: int,
    excluded: int,
    invalid: int = 0,
) -> int:
    """Write a new version of every view and make it current in one transaction."""
    with engine.begin() as conn:
        version = conn.execute(
            insert(batch_runs)
            .values(
                started_at=started,
                finished_at=datetime.now(UTC),
                watermark=watermark,
                events=events,
                excluded_files=excluded,
                invalid_records=invalid,
            )
            .returning(batch_runs.c.version)
        ).scalar_one()
        for table, rows in views.items():
            if rows:
                conn.execute(insert(table), [{**r, "version": version} for r in rows])
        moved = conn.execute(
            update(batch_current).where(batch_current.c.id == 1).values(version=version)
        )
        if moved.rowcount == 0:
            conn.execute(insert(batch_current).values(id=1, version=version))
    _prune(engine, views, keep=version)
    return int(version)


def _prune(engine: Engine, views: dict[Table, list[dict[str, Any]]], keep: int) -> None:
    """Drop the rows of versions older than the previous one: readers mid-query keep theirs."""
    with engine.begin() as conn:
        for table in views:
            conn.execute(delete(table).where(table.c.version < keep - 1))
