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
