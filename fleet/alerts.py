"""The alert vocabulary shared by the simulator's ground truth and the hot path."""

from __future__ import annotations

from enum import StrEnum


class AlertKind(StrEnum):
    """Why a car needs attention. The values are the wire words."""

    ENGINE_OVERHEAT = "engine_overheat"
    OIL_PRESSURE_LOW = "oil_pressure_low"
    TYRE_PRESSURE_LOW = "tyre_pressure_low"
    FUEL_LOW = "fuel_low"
    BATTERY_LOW = "battery_low"
    DTC_ACTIVE = "dtc_active"
    HARSH_DRIVING = "harsh_driving"
    VEHICLE_SILENT = "vehicle_silent"


class Severity(StrEnum):
    """How urgently an alert needs a person; ordered from least to most urgent."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)
