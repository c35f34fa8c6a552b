"""Each vehicle class burns a plausible amount of fuel over a standard trip.

Ranges are real-world combined consumption of current European cars of each
kind: EU type-approval (WLTP) combined values from manufacturers' data, about
5-6 l/100 km for a small petrol car, 6-7.5 for a mid-size petrol, 7.5-10 for a
petrol SUV, 7.5-10 for a diesel panel van, widened upward by the ~15-25 % by
which ICCT ("From laboratory to road", 2019 update) finds real driving exceeds
the laboratory figure, and downward a little for model spread.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.fuel import FuelModel, cycle_consumption, drive_cycle
from simulator.vehicles import CLASSES

PLAUSIBLE_L_PER_100KM = {
    "small_petrol": (5.0, 8.0),
    "sedan_petrol": (6.0, 9.0),
    "suv_petrol": (8.0, 12.0),
    "van_diesel": (8.0, 12.0),
}


def _combined() -> np.ndarray:
    return np.concatenate([drive_cycle("urban"), drive_cycle("highway")])


@pytest.mark.parametrize("name", [c.name for c in CLASSES])
def test_standard_trip_consumption_is_plausible(name: str) -> None:
    lo, hi = PLAUSIBLE_L_PER_100KM[name]
    assert lo <= cycle_consumption(name, _combined()) <= hi


def test_bigger_vehicles_burn_more() -> None:
    small, _, suv, _ = (cycle_consumption(c.name, _combined()) for c in CLASSES)
    assert suv > small


def test_hard_acceleration_costs_more_than_cruising() -> None:
    model = FuelModel(np.zeros(3, dtype=np.int64))
    cruise, gentle, hard = model.rate_lph(np.full(3, 50.0), np.array([0.0, 1.0, 3.0]))
    assert cruise < gentle < hard


def test_rate_is_positive_and_finite_everywhere() -> None:
    v, a = np.meshgrid(np.linspace(0, 200, 41), np.linspace(-8, 8, 33))
    for cls in range(len(CLASSES)):
        rate = FuelModel(np.full(v.size, cls)).rate_lph(v.ravel(), a.ravel())
        assert np.isfinite(rate).all() and (rate > 0).all()
