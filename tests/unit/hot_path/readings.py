"""Hand-made readings and a tiny driver that feeds them through the hot path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fleet.telemetry import TelemetryEvent, encode_event, new_event
from fleet.vin import with_check_digit
from hot_path.config import RuleSettings
from hot_path.detector import VehicleState
from hot_path.events import AlertEvent
from hot_path.processing import Outcome, process_record

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
VIN = with_check_digit("WF1ABCDE0SA123456")
OTHER_VIN = with_check_digit("WF2ABCDE0SA654321")

HEALTHY: dict[str, Any] = {
    "speed": 50.0,
    "acceleration": 0.0,
    "odometer": 10_000.0,
    "fuel_level": 50.0,
    "range": 400_000.0,
    "coolant_temp": 91.0,
    "oil_temp": 100.0,
    "oil_pressure": 250.0,
    "engine_speed": 1500.0,
    "tyre_front_left": 240.0,
    "tyre_front_right": 243.0,
    "tyre_rear_left": 238.0,
    "tyre_rear_right": 241.0,
    "battery_voltage": 14.1,
}


def reading(
    seconds: float, *, vin: str = VIN, seq: int | None = None, **signals: Any
) -> TelemetryEvent:
    """A healthy car ``seconds`` after START, with ``signals`` overriding the defaults."""
    values = {**HEALTHY, **signals}
    values = {k: v for k, v in values.items() if v is not None}
    return new_event(
        vin=vin,
        seq=round(seconds) if seq is None else seq,
        event_time=START + timedelta(seconds=seconds),
        **values,
    )


class Fleet:
    """Dict-backed tables and the alerts the records produced, in order."""

    def __init__(self, cfg: RuleSettings | None = None) -> None:
        self.cfg = cfg or RuleSettings()
        self.vehicles: dict[str, VehicleState] = {}
        self.watermarks: dict[str, float] = {}
        self.alerts: list[AlertEvent] = []
        self.offset = 0

    def send(self, value: bytes | None, *, key: bytes | None = None, partition: int = 0) -> Outcome:
        outcome = process_record(
            key,
            value,
            topic="fleet.telemetry",
            partition=partition,
            offset=self.offset,
            vehicles=self.vehicles,
            watermarks=self.watermarks,
            now=NOW,
            cfg=self.cfg,
        )
        self.offset += 1
        self.alerts.extend(outcome.alerts)
        return outcome

    def feed(self, *events: TelemetryEvent, partition: int = 0) -> list[AlertEvent]:
        before = len(self.alerts)
        for ev in events:
            self.send(encode_event(ev), key=ev.key, partition=partition)
        return self.alerts[before:]

    def transitions(self) -> list[tuple[str, str, str]]:
        return [(a.vin, str(a.kind), str(a.status)) for a in self.alerts]
