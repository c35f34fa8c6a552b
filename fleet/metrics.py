"""Thresholds shared by the hot path, the batch jobs and the serving layer."""

from __future__ import annotations

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
