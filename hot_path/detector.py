"""A car's whole hot-path state, and how one reading (or the watermark) advances it.

`observe` runs every rule on a reading and feeds the findings to the alert
lifecycle; `judge_silence` checks a car against the fleet watermark. Both are
pure. Only readings newer than the newest one seen from the car move its
state: a duplicate (same ``(VIN, seq)``, same event time) or a record that
arrives late or overtaken is history, not news, and must neither count twice
nor re-open an alert. The state is stored in a Faust table as a plain dict
(`to_dict` / `from_dict`).

The states are named tuples, immutable like the frozen dataclasses they
replaced at a fifth of the cost to build (one per record); a car's open
alerts are a read-only mapping, copied only when an alert changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from fleet.alerts import AlertKind, Severity
from fleet.telemetry import TelemetryValues
from hot_path import rules
from hot_path.config import RuleSettings
from hot_path.events import AlertEvent
from hot_path.lifecycle import OpenAlert, step
from hot_path.rules import BatteryState, Finding, Since
from hot_path.rules_chassis import TyreState, tyre_pressure_low
from hot_path.rules_harsh import HarshState, harsh_driving

Alerts = Mapping[AlertKind, OpenAlert]
NO_ALERTS: Alerts = MappingProxyType({})


class VehicleState(NamedTuple):
    vin: str
    partition: int = -1
    last_time: float | None = None
    last_seq: int = -1
    overheat: Since = None
    oil: Since = None
    fuel: Since = None
    dtc: Since = None
    battery: BatteryState = BatteryState()
    tyres: TyreState = TyreState()
    harsh: HarshState = HarshState()
    alerts: Alerts = NO_ALERTS


def observe(
    state: VehicleState, ev: TelemetryValues, *, partition: int, now: datetime, cfg: RuleSettings
) -> tuple[VehicleState, list[AlertEvent]] | None:
    """The next state and the alert events for a reading; None if the reading is not news."""
    t = ev.event_time.timestamp()
    if state.last_time is not None and t <= state.last_time:
        return None
    overheat, f_overheat = rules.engine_overheat(state.overheat, ev, t, cfg)
    oil, f_oil = rules.oil_pressure_low(state.oil, ev, t, cfg)
    fuel, f_fuel = rules.fuel_low(state.fuel, ev, t, cfg)
    dtc, f_dtc = rules.dtc_active(state.dtc, ev, t, cfg)
    battery, f_battery = rules.battery_low(state.battery, ev, t, cfg)
    tyres, f_tyres = tyre_pressure_low(state.tyres, ev, t, cfg)
    harsh, f_harsh = harsh_driving(state.harsh, ev, t, cfg)
    findings = (
        (AlertKind.ENGINE_OVERHEAT, f_overheat),
        (AlertKind.OIL_PRESSURE_LOW, f_oil),
        (AlertKind.TYRE_PRESSURE_LOW, f_tyres),
        (AlertKind.FUEL_LOW, f_fuel),
        (AlertKind.BATTERY_LOW, f_battery),
        (AlertKind.DTC_ACTIVE, f_dtc),
        (AlertKind.HARSH_DRIVING, f_harsh),
        (AlertKind.VEHICLE_SILENT, rules.CLEAR),  # it just spoke
    )
    alerts, events = _advance(state, findings, t=t, now=now, cfg=cfg)
    new = VehicleState(
        ev.vin, partition, t, ev.seq, overheat, oil, fuel, dtc, battery, tyres, harsh, alerts
    )
    return new, events


def judge_silence(
    state: VehicleState, *, mark: float, now: datetime, cfg: RuleSettings
) -> tuple[VehicleState, AlertEvent | None]:
    """Open ``vehicle_silent`` for a car that has said nothing since long before ``mark``."""
    finding = rules.vehicle_silent(state.last_time, mark, cfg)
    kind = AlertKind.VEHICLE_SILENT
    if finding is None or kind in state.alerts:
        return state, None
    alerts, events = _advance(state, ((kind, finding),), t=mark, now=now, cfg=cfg)
    return state._replace(alerts=alerts), events[0] if events else None


def _advance(
    state: VehicleState,
    findings: Iterable[tuple[AlertKind, Finding | None]],
    *,
    t: float,
    now: datetime,
    cfg: RuleSettings,
) -> tuple[Alerts, list[AlertEvent]]:
    alerts = state.alerts
    changed: dict[AlertKind, OpenAlert] | None = None  # the copy, made on the first change
    events: list[AlertEvent] = []
    for kind, finding in findings:
        current = alerts.get(kind)
        if finding is None or (current is None and not finding.active):
            continue
        nxt, event = step(
            current,
            finding,
            vin=state.vin,
            kind=kind,
            t=t,
            now=now,
            resolve_after_s=cfg.resolve_after_s,
        )
        if nxt is not current:
            if changed is None:
                alerts = changed = dict(alerts)
            if nxt is None:
                del changed[kind]
            else:
                changed[kind] = nxt
        if event is not None:
            events.append(event)
    return alerts, events


def _flat(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def to_dict(state: VehicleState) -> dict[str, Any]:
    out = state._asdict()
    out["battery"] = state.battery._asdict()
    out["tyres"] = state.tyres._asdict()
    out["harsh"] = state.harsh._asdict()
    out["alerts"] = {str(kind): _flat(a) for kind, a in state.alerts.items()}
    return out


def _harsh(data: dict[str, Any]) -> HarshState:
    # A changelog written before the harsh rule changed holds other fields: the car
    # learns its norms afresh (minutes of driving) rather than the worker failing.
    if data.keys() <= set(HarshState._fields):
        return HarshState(**data)
    return HarshState()


def from_dict(data: dict[str, Any]) -> VehicleState:
    tyres = dict(data["tyres"])
    if tyres["ratios"] is not None:
        tyres["ratios"] = tuple(tyres["ratios"])
    alerts = {
        AlertKind(kind): OpenAlert(a["alert_id"], a["opened_t"], Severity(a["severity"]),
                                   a["clear_since"])
        for kind, a in data["alerts"].items()
    }  # fmt: skip
    return VehicleState(
        **{k: v for k, v in data.items() if k not in ("battery", "tyres", "harsh", "alerts")},
        battery=BatteryState(**data["battery"]),
        tyres=TyreState(**tyres),
        harsh=_harsh(data["harsh"]),
        alerts=MappingProxyType(alerts),
    )
