"""Scoring alerts against the simulator's truth."""

from __future__ import annotations

from datetime import timedelta

from fleet.alerts import AlertKind
from hot_path.score import Fault, score

from .readings import OTHER_VIN, VIN, Fleet, reading


def test_an_alert_inside_the_fault_window_is_right_and_finds_the_fault() -> None:
    fleet = Fleet()
    fleet.feed(*(reading(s, dtcs=("P0420",)) for s in range(10)))
    fleet.feed(*(reading(s, vin=OTHER_VIN, dtcs=("P0420",)) for s in range(10)))
    truth = [
        Fault(VIN, AlertKind.DTC_ACTIVE, reading(0).event_time, reading(60).event_time),
        Fault(VIN, AlertKind.FUEL_LOW, reading(0).event_time, reading(60).event_time),
    ]
    result = score(truth, fleet.alerts, timedelta(seconds=0))
    dtc, fuel = result[AlertKind.DTC_ACTIVE], result[AlertKind.FUEL_LOW]
    assert (dtc.faults, dtc.found, dtc.alerts, dtc.right) == (1, 1, 2, 1)
    assert dtc.recall == 1.0 and dtc.precision == 0.5
    assert dtc.delays_s == [5.0]
    assert fuel.recall == 0.0 and fuel.precision is None
