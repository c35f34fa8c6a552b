"""Fault injection: when each fault happens, to whom, and for how long.

Faults arrive as a Poisson process: ``rate`` faults per car per simulated hour,
spread over the kinds by `KIND_WEIGHTS`. A car never has two faults of the same
kind at once. The schedule is drawn up front from its own random stream, so
turning faults on or off leaves every other random draw of the run unchanged.

Each fault starts early enough to run its course before the run ends (its
start is drawn over the run less its longest window, at most half the run):
a fault cut short by the end of the run, minutes after it began, would be in
the truth without ever having shown.

What each fault does to the physics lives in `simulator.physics` and
`simulator.engine`; this module only plans and records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleet.alerts import AlertKind

DEFAULT_RATE = 0.05  # per car per simulated hour: 200 cars see ~20 faults in two hours

KIND_WEIGHTS: dict[AlertKind, float] = {
    AlertKind.ENGINE_OVERHEAT: 1.0,
    AlertKind.OIL_PRESSURE_LOW: 1.0,
    AlertKind.TYRE_PRESSURE_LOW: 1.5,
    AlertKind.FUEL_LOW: 1.0,
    AlertKind.BATTERY_LOW: 1.0,
    AlertKind.DTC_ACTIVE: 1.0,
    AlertKind.HARSH_DRIVING: 1.5,
    AlertKind.VEHICLE_SILENT: 1.0,
}

# How long each fault lasts (simulated seconds, uniform between the bounds):
# long enough for a detector to see the trend, short enough to fit a demo run.
DURATION_S: dict[AlertKind, tuple[float, float]] = {
    AlertKind.ENGINE_OVERHEAT: (900, 1800),
    AlertKind.OIL_PRESSURE_LOW: (900, 1800),
    AlertKind.TYRE_PRESSURE_LOW: (1200, 2400),
    AlertKind.FUEL_LOW: (1800, 3600),  # until the driver gives in and refuels
    AlertKind.BATTERY_LOW: (1200, 2400),
    AlertKind.DTC_ACTIVE: (600, 1800),
    AlertKind.HARSH_DRIVING: (300, 900),
    AlertKind.VEHICLE_SILENT: (300, 900),
}

# Faults that show only while the car is in use: they start when its engine next
# runs, and their duration counts engine running time (`simulator.injection`).
IN_USE = frozenset({AlertKind.ENGINE_OVERHEAT, AlertKind.OIL_PRESSURE_LOW,
                    AlertKind.HARSH_DRIVING})  # fmt: skip
# Room left at the end of a run for a fault to run its course: its longest window,
# twice that for a fault counted in running time (cars are parked about half the time).
TAIL_S = {kind: hi * (2.0 if kind in IN_USE else 1.0) for kind, (_, hi) in DURATION_S.items()}

REST_S = 1800.0  # least time between two faults of one kind on one car

# Codes a car reports during a dtc_active fault (SAE J2012 powertrain codes).
DTC_CODES = ("P0300", "P0171", "P0420", "P0128", "P0442", "P0101")


@dataclass(frozen=True)
class PlannedFault:
    at_s: float  # simulated seconds after the start of the run
    car: int  # -1: chosen when it happens (fuel_low picks the emptiest tank)
    kind: AlertKind
    duration_s: float
    detail: int = 0  # which tyre punctures, which trouble code shows


def plan_faults(
    rng: np.random.Generator, cars: int, duration_s: float, rate: float
) -> list[PlannedFault]:
    """A reproducible schedule of faults over the run, ordered by start time."""
    if rate <= 0 or cars == 0:
        return []
    count = int(rng.poisson(rate * cars * duration_s / 3600.0))
    kinds = list(KIND_WEIGHTS)
    weights = np.array([KIND_WEIGHTS[k] for k in kinds])
    starts = np.sort(rng.uniform(0, duration_s, count))
    picks = rng.choice(len(kinds), size=count, p=weights / weights.sum())
    victims = rng.integers(0, cars, size=count)
    spans = rng.uniform(0.0, 1.0, size=count)
    details = rng.integers(0, 1 << 16, size=count)
    busy: dict[tuple[int, AlertKind], float] = {}
    plan = []
    rows = sorted(
        (u_at * (duration_s - min(TAIL_S[kinds[k]], duration_s / 2)) / duration_s, k, car, u, d)
        for u_at, k, car, u, d in zip(starts.tolist(), picks.tolist(), victims.tolist(),
                                      spans.tolist(), details.tolist(), strict=True)
    )  # fmt: skip
    for at, k, car, u, detail in rows:
        kind = kinds[k]
        lo, hi = DURATION_S[kind]
        length = lo + u * (hi - lo)
        if kind is AlertKind.FUEL_LOW:
            car = -1
        elif busy.get((car, kind), -1.0) > at:
            continue
        # A repaired car is not broken the same way again straight away: two windows
        # back to back would be one long condition, listed as two faults.
        busy[(car, kind)] = at + TAIL_S[kind] / hi * length + REST_S
        plan.append(PlannedFault(at, car, kind, length, detail))
    return plan


@dataclass
class FaultRecord:
    """One injected fault as the truth file states it; times in simulated seconds."""

    car: int
    kind: AlertKind
    start_s: float
    end_s: float | None = None
