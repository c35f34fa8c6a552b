"""The per-reading increment that the speed layer and the batch share."""

from __future__ import annotations

import pytest

from fleet.metrics import MAX_DRIVING_GAP_S, Increment, Reading, increment


def r(t: float, odo: float = 100.0, fuel: float = 40.0, speed: float = 50.0, acc: float = 0.0):
    return Reading(t, odo, fuel, speed, acc)


def test_a_moving_car_adds_distance_fuel_and_time() -> None:
    inc = increment(r(0), r(1, odo=100.014, fuel=39.998))
    assert inc.distance_km == pytest.approx(0.014)
    assert inc.fuel_used_l == pytest.approx(0.002)
    assert (inc.driving_s, inc.harsh_events, inc.records) == (1.0, 0, 1)


def test_a_refuel_is_not_negative_use_and_jitter_cancels() -> None:
    assert increment(r(0, fuel=10.0), r(1, fuel=10.6)).fuel_used_l == 0.0
    levels = [40.0, 39.99, 40.02, 39.97, 39.96]  # jitter of a few centilitres
    used = sum(
        increment(r(i, fuel=a), r(i + 1, fuel=b)).fuel_used_l
        for i, (a, b) in enumerate(zip(levels, levels[1:], strict=False))
    )
    assert used == pytest.approx(40.0 - 39.96)


def test_a_stopped_car_adds_only_itself() -> None:
    assert increment(r(0, speed=0.0), r(1, speed=0.0)) == Increment()


def test_an_odometer_never_runs_back_and_a_gap_is_not_driving() -> None:
    assert increment(r(0, odo=100.0), r(1, odo=99.9)).distance_km == 0.0
    gap = increment(r(0), r(MAX_DRIVING_GAP_S + 1, odo=101.0))
    assert gap.driving_s == 0.0 and gap.distance_km == pytest.approx(1.0)


def test_a_harsh_episode_counts_once_where_it_begins() -> None:
    accs = [0.0, 3.0, 3.1, 2.9, 0.5, -4.0]
    events = [increment(r(i, acc=a), r(i + 1, acc=b)).harsh_events for i, (a, b) in
              enumerate(zip(accs, accs[1:], strict=False))]  # fmt: skip
    assert events == [1, 0, 0, 0, 1]
    assert increment(None, r(0, acc=-5.0)) == Increment(harsh_events=1)
