from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from cold_path.batch import publish
from cold_path.config import ColdPathSettings
from fleet import store
from fleet.metrics import Reading, increment
from hot_path.config import HotPathSettings
from serving.config import ServingSettings
from serving.merge import (
    Bucket,
    Totals,
    is_aligned,
    l_per_100km,
    merge,
    merge_vehicle,
    speed_cutoff,
    speed_totals,
)
from serving.queries.vehicles import merged_vehicles
from serving.queries.view import current_view
from tests.unit.serving.rows import T0, VIN_A, WATERMARK, add_buckets, efficiency_row

W = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def _pair(totals: Totals | None) -> tuple[float, float]:
    assert totals is not None
    return totals.distance_km, totals.fuel_used_l


def test_cutoff_is_the_watermark_when_it_is_a_bucket_boundary() -> None:
    assert is_aligned(W, 60)
    assert speed_cutoff(W, 60) == W


def test_cutoff_is_the_next_boundary_when_the_watermark_is_inside_a_bucket() -> None:
    mark = W + timedelta(seconds=17)
    assert not is_aligned(mark, 60)
    assert speed_cutoff(mark, 60) == W + MIN
    assert speed_cutoff(mark, 10) == W + timedelta(seconds=20)


def test_no_watermark_takes_every_bucket() -> None:
    assert speed_cutoff(None, 60) is None
    buckets = [Bucket(W - MIN, 1.0, 0.1), Bucket(W, 2.0, 0.2)]
    assert _pair(speed_totals(buckets, None)) == pytest.approx((3.0, 0.3))


def test_bucket_at_the_watermark_counts_and_the_one_before_does_not() -> None:
    buckets = [Bucket(W - MIN, 5.0, 0.5), Bucket(W, 1.0, 0.1), Bucket(W + MIN, 2.0, 0.2)]
    assert _pair(speed_totals(buckets, W)) == pytest.approx((3.0, 0.3))
    assert speed_totals([Bucket(W - MIN, 5.0, 0.5)], W) is None


def test_merge_adds_layers_and_names_them() -> None:
    both = merge(Totals(100.0, 6.0), Totals(2.0, 0.2))
    assert (both.totals.distance_km, both.totals.fuel_used_l) == pytest.approx((102.0, 6.2))
    assert both.layers == ("batch", "speed")
    assert merge(Totals(1.0, 0.1), None).layers == ("batch",)
    assert merge(None, Totals(1.0, 0.1)).layers == ("speed",)
    assert merge(None, None) == merge(None, None)
    assert merge(None, None).layers == ()


def test_efficiency_needs_a_kilometre() -> None:
    assert l_per_100km(Totals(0.99, 0.1)) is None
    assert l_per_100km(Totals(200.0, 12.0)) == pytest.approx(6.0)
    assert merge(Totals(50.0, 2.0), Totals(50.0, 4.0)).l_per_100km == pytest.approx(6.0)


def _drive(n: int, start: datetime, step_s: float) -> list[Reading]:
    """A car at ~54 km/h burning ~0.001 l/s, with some gauge jitter, one reading a step."""
    t0 = start.timestamp()
    return [
        Reading(t0 + i * step_s, 1000.0 + i * 0.015 * step_s, 50.0 - i * 0.001 * step_s
                + 0.02 * math.sin(i), 54.0)
        for i in range(n)
    ]  # fmt: skip


def _layers(readings: list[Reading], mark: datetime, bucket_s: int) -> tuple[Totals, list[Bucket]]:
    """The batch (increments of readings before the mark) and speed buckets of every reading."""
    batch = Totals()
    sums: dict[float, Totals] = defaultdict(Totals)
    prev = None
    for r in readings:
        inc = increment(prev, r)
        part = Totals(inc.distance_km, inc.fuel_used_l)
        if r.t < mark.timestamp():
            batch = batch + part
        sums[r.t - r.t % bucket_s] = sums[r.t - r.t % bucket_s] + part
        prev = r
    buckets = [
        Bucket(datetime.fromtimestamp(s, tz=UTC), v.distance_km, v.fuel_used_l)
        for s, v in sums.items()
    ]
    return batch, buckets


def test_aligned_watermark_merges_to_the_full_recomputation() -> None:
    readings = _drive(400, W - timedelta(minutes=3), 1.5)
    full, buckets = _layers(readings, datetime.max.replace(tzinfo=UTC), 60)
    batch, _ = _layers(readings, W, 60)
    merged = merge_vehicle(batch, buckets, watermark=W, bucket_s=60)
    assert merged.totals.distance_km == pytest.approx(full.distance_km)
    assert merged.totals.fuel_used_l == pytest.approx(full.fuel_used_l)


def test_unaligned_watermark_never_counts_twice() -> None:
    readings = _drive(400, W - timedelta(minutes=3), 1.5)
    mark = W + timedelta(seconds=23)
    full, buckets = _layers(readings, datetime.max.replace(tzinfo=UTC), 60)
    batch, _ = _layers(readings, mark, 60)
    merged = merge_vehicle(batch, buckets, watermark=mark, bucket_s=60)
    # What is missing is exactly the readings from the watermark to the next boundary.
    gap, _ = _layers([r for r in readings if r.t < (W + MIN).timestamp()], mark, 60)
    before, _ = _layers([r for r in readings if r.t < (W + MIN).timestamp()], W + MIN, 60)
    missing = before.distance_km - gap.distance_km
    assert missing > 0
    assert merged.totals.distance_km == pytest.approx(full.distance_km - missing)


def test_a_car_merges_the_batch_merge_totals_not_the_smoothed_efficiency_figures(
    engine: Engine,
) -> None:
    # The efficiency view's smoothed figures (100 km, 6 l) are the leaderboard's; the merge
    # adds the speed buckets to the batch's increment sums (99.5 km, 6.25 l).
    mark = WATERMARK
    publish(
        engine,
        {
            store.vehicle_efficiency: [efficiency_row(VIN_A, "compact", 100.0, 6.0)],
            store.vehicle_totals: [
                {"vin": VIN_A, "distance_km": 99.5, "fuel_used_l": 6.25, "readings": 3600,
                 "through": mark - timedelta(seconds=1)},
            ],
        },
        started=T0, watermark=mark, events=3600, excluded=0,
    )  # fmt: skip
    add_buckets(engine, VIN_A, [(mark - MIN, 9.0, 9.0), (mark, 1.0, 0.1), (mark + MIN, 2.0, 0.2)])

    with engine.connect() as conn:
        (car,) = merged_vehicles(conn, view=current_view(conn, bucket_s=60), vins=[VIN_A])

    assert (car.merged.totals.distance_km, car.merged.totals.fuel_used_l) == pytest.approx(
        (102.5, 6.55)
    )
    assert car.merged.layers == ("batch", "speed")
    assert car.merged.l_per_100km == pytest.approx(6.55 / 102.5 * 100)
    assert car.batch_l_per_100km == pytest.approx(6.0)
    assert car.vehicle_class == "compact"


def test_a_version_without_merge_totals_falls_back_to_its_efficiency_figures(
    engine: Engine,
) -> None:
    publish(
        engine, {store.vehicle_efficiency: [efficiency_row(VIN_A, "compact", 100.0, 6.0)]},
        started=T0, watermark=WATERMARK, events=3600, excluded=0,
    )  # fmt: skip

    with engine.connect() as conn:
        (car,) = merged_vehicles(conn, view=current_view(conn, bucket_s=60), vins=[VIN_A])

    assert (car.merged.totals.distance_km, car.merged.totals.fuel_used_l) == (100.0, 6.0)


def test_every_layer_reads_the_one_bucket_size(monkeypatch: pytest.MonkeyPatch) -> None:
    def sizes() -> tuple[int, int, int]:
        return (
            HotPathSettings().speed_bucket_s,
            ColdPathSettings().watermark_align_s,
            ServingSettings().speed_bucket_s,
        )

    for old in ("HOT_SPEED_BUCKET_S", "COLD_WATERMARK_ALIGN_S", "SERVING_SPEED_BUCKET_S"):
        monkeypatch.setenv(old, "7")  # the per-layer names are no longer read
    monkeypatch.delenv("FLEET_SPEED_BUCKET_S", raising=False)
    assert sizes() == (60, 60, 60)
    monkeypatch.setenv("FLEET_SPEED_BUCKET_S", "30")
    assert sizes() == (30, 30, 30)
