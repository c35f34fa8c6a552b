"""Thresholds shared by the hot path, the batch jobs and the serving layer."""

from __future__ import annotations

REFUEL_MIN_LITRES = 3.0
"""A rise of the tank level larger than this between two readings is a refuel.
Gauge noise is a fraction of a litre; the smallest refuel worth the name is more."""

MIN_DISTANCE_KM = 1.0
"""Below this, litres per 100 km says more about the gauge than about the car."""
