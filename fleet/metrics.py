"""Thresholds and per-reading metrics shared by the hot path, the batch and the serving layer."""

from __future__ import annotations

from typing import NamedTuple

REFUEL_MIN_LITRES = 3.0
"""A run of rising tank readings that adds up to more than this is a refuel.
Gauge noise is a fraction of a litre; the smallest refuel worth the name is more."""

FUEL_RISE_EPSILON_LITRES = 0.05
"""A reading this much above the one before counts as rising (gauge resolution)."""

MIN_DISTANCE_KM = 1.0
"""Below this, litres per 100 km says more about the gauge than about the car."""

HARSH_ACCEL_MPS2 = 2.5
"""Longitudinal acceleration at or above this is harsh (about 0.25 g, as telematics vendors use)."""

HARSH_BRAKE_MPS2 = 3.5
"""Deceleration at or beyond this (as a positive number) is harsh braking (about 0.36 g)."""

MOVING_MIN_KMH = 1.0
"""Slower than this the car stands: creeping at a light is not driving time."""

MAX_DRIVING_GAP_S = 60.0
"""Readings further apart than this bracket a gap in the data, not driving time."""


class Reading(NamedTuple):
    """What the increments need of one telemetry record (epoch seconds, VSS units).

    Named tuples, this and `Increment`: the speed-view writer makes one of each a
    record, and a named tuple is made in 0.4 us where a frozen dataclass took 1.1.
    """

    t: float
    odometer: float | None = None
    fuel_litres: float | None = None
    speed: float | None = None
    acceleration: float | None = None


class Increment(NamedTuple):
    """What one reading adds to its car's totals, given the reading before it."""

    distance_km: float = 0.0
    fuel_used_l: float = 0.0
    driving_s: float = 0.0
    harsh_events: int = 0
    records: int = 1


def is_harsh(acceleration: float | None) -> bool:
    if acceleration is None:
        return False
    return acceleration >= HARSH_ACCEL_MPS2 or acceleration <= -HARSH_BRAKE_MPS2


def increment(prev: Reading | None, cur: Reading) -> Increment:
    """The increment of ``cur`` over ``prev``, the car's reading just before it in event time.

    The one definition of distance, fuel used, driving time and harsh events
    per reading, shared by the speed layer and the batch so their sums agree:

    - distance: the odometer's rise (an odometer never runs back; a lower
      reading is a glitch and adds nothing);
    - fuel used: the tank's drain. A rise of more than
      `FUEL_RISE_EPSILON_LITRES` is fuel going in (a refuel is a run of such
      rises adding up to `REFUEL_MIN_LITRES` or more), never negative use; a
      smaller rise is gauge jitter and is kept signed, so jitter cancels and a
      refuel-free stretch sums to its first level minus its last;
    - driving time: the time since ``prev`` if the car moves at ``cur`` and the
      readings are at most `MAX_DRIVING_GAP_S` apart;
    - harsh events: 1 where a harsh episode begins (``cur`` harsh, ``prev`` not);
    - records: 1, the reading itself.

    A car's first reading (``prev`` None) adds only itself and a harsh event if
    it is harsh.
    """
    harsh = int(is_harsh(cur.acceleration) and (prev is None or not is_harsh(prev.acceleration)))
    if prev is None:
        return Increment(harsh_events=harsh)
    distance = 0.0
    if prev.odometer is not None and cur.odometer is not None:
        distance = max(cur.odometer - prev.odometer, 0.0)
    fuel = 0.0
    if prev.fuel_litres is not None and cur.fuel_litres is not None:
        drain = prev.fuel_litres - cur.fuel_litres
        fuel = drain if drain >= -FUEL_RISE_EPSILON_LITRES else 0.0
    dt = cur.t - prev.t
    moving = cur.speed is not None and cur.speed >= MOVING_MIN_KMH
    driving = dt if moving and 0.0 < dt <= MAX_DRIVING_GAP_S else 0.0
    return Increment(distance, fuel, driving, harsh)


# Health thresholds: the hot path's defaults (hot_path.config) and the batch's
# health summary judge a car by the same numbers.
COOLANT_HOT_C = 110.0
"""A coolant above this is overheating; a thermostat-held engine runs at 85-95 °C."""

OIL_LOW_MIN_KPA = 80.0
OIL_LOW_KPA_PER_1000_RPM = 70.0
"""Oil pressure under max(80 kPa, 70 kPa per 1000 rpm) with the engine running is low."""

FUEL_LOW_PERCENT = 10.0
"""The dashboard's low-fuel warning."""

BATTERY_LOW_V = 12.2
"""A 12 V lead-acid battery resting under this is about half discharged."""
