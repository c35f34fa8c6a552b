"""Detection rules: pure functions of a car's rule state and its newest reading.

Each rule takes its own small, immutable state and the reading (with its
event time ``t`` in epoch seconds) and returns the next state and a `Finding`.
States are named tuples: a new one per rule per record, and a frozen
dataclass took five times as long to build (`object.__setattr__` per field).

- ``Finding(active=True, ...)``: the condition holds and has held long enough;
- ``CLEAR``: the reading shows the condition is absent;
- ``None``: no opinion (signal missing, engine off, condition not yet sustained,
  or inside a hysteresis band), so an open alert neither resolves nor re-arms.

Rules never look at wall-clock time and never do I/O; they judge time over
readings, so a single spike or a single dropout never decides anything. The
tyre and harsh-driving rules live in `hot_path.rules_chassis`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from fleet.alerts import Severity
from fleet.telemetry import TelemetryValues
from hot_path.config import RuleSettings

Detail = dict[str, float | str]


@dataclass(frozen=True, slots=True)
class Finding:
    """What one rule concluded from one reading."""

    active: bool
    severity: Severity = Severity.WARNING
    detail: Detail = field(default_factory=dict)


CLEAR = Finding(active=False)
Since = float | None
"""Event time at which the current run of bad readings began, or None."""


def sustained(since: Since, t: float, bad: bool, hold_s: float) -> tuple[Since, bool]:
    """Track a run of bad readings; True once it has lasted ``hold_s`` of event time."""
    if not bad:
        return None, False
    start = t if since is None else since
    return start, t - start >= hold_s


def engine_overheat(
    since: Since, ev: TelemetryValues, t: float, cfg: RuleSettings
) -> tuple[Since, Finding | None]:
    """Coolant above the limit for ``coolant_sustain_s``; a lone hot reading is a spike."""
    temp = ev.coolant_temp
    if temp is None:
        return since, None
    since, held = sustained(since, t, temp > cfg.coolant_limit_c, cfg.coolant_sustain_s)
    if since is None:
        return None, CLEAR
    if not held:
        return since, None
    severity = Severity.CRITICAL if temp >= cfg.coolant_critical_c else Severity.WARNING
    return since, Finding(True, severity, {"coolant_temp_c": temp})


def oil_floor_kpa(rpm: float, cfg: RuleSettings) -> float:
    """The least pressure a healthy pump gives at this engine speed."""
    return max(cfg.oil_min_kpa, cfg.oil_kpa_per_1000rpm * rpm / 1000.0)


def oil_pressure_low(
    since: Since, ev: TelemetryValues, t: float, cfg: RuleSettings
) -> tuple[Since, Finding | None]:
    """Pressure under the floor for the engine speed, while the engine runs."""
    rpm, kpa = ev.engine_speed, ev.oil_pressure
    if rpm is None or kpa is None:
        return since, None
    if rpm < cfg.oil_min_rpm:
        # Engine off or cranking: no pressure is expected, and a restart starts afresh.
        return None, None
    floor = oil_floor_kpa(rpm, cfg)
    since, held = sustained(since, t, kpa < floor, cfg.oil_sustain_s)
    if since is None:
        return None, CLEAR
    if not held:
        return since, None
    detail: Detail = {"oil_pressure_kpa": kpa, "expected_min_kpa": round(floor, 1), "rpm": rpm}
    return since, Finding(True, Severity.CRITICAL, detail)


def fuel_low(
    since: Since, ev: TelemetryValues, t: float, cfg: RuleSettings
) -> tuple[Since, Finding | None]:
    """Level under the warning line, or range under the warning distance."""
    level, range_m = ev.fuel_level, ev.range
    if level is None and range_m is None:
        return since, None
    low = (level is not None and level < cfg.fuel_low_percent) or (
        range_m is not None and range_m < cfg.fuel_low_range_m
    )
    if not low:
        # Hysteresis: a gauge hovering at the line must not open and close alerts.
        recovered = level is None or level >= cfg.fuel_low_percent + cfg.fuel_clear_margin_percent
        return None, CLEAR if recovered else None
    since, held = sustained(since, t, True, cfg.fuel_sustain_s)
    if not held:
        return since, None
    critical = range_m is not None and range_m < cfg.fuel_critical_range_m
    detail: Detail = {}
    if level is not None:
        detail["fuel_level_percent"] = level
    if range_m is not None:
        detail["range_km"] = round(range_m / 1000.0, 1)
    return since, Finding(True, Severity.CRITICAL if critical else Severity.WARNING, detail)


class BatteryState(NamedTuple):
    engine_off_since: float | None = None
    since: Since = None


def battery_low(
    st: BatteryState, ev: TelemetryValues, t: float, cfg: RuleSettings
) -> tuple[BatteryState, Finding | None]:
    """Resting voltage low once the surface charge has faded, or not charging while running."""
    volts, rpm = ev.battery_voltage, ev.engine_speed
    if volts is None or rpm is None:
        return st, None
    if rpm > 0:
        off_since = None
        if cfg.battery_charging_min_v <= 0:
            return BatteryState(None, st.since), None
        bad = volts < cfg.battery_charging_min_v
    else:
        off_since = t if st.engine_off_since is None else st.engine_off_since
        if t - off_since < cfg.battery_settle_s:
            return BatteryState(off_since, st.since), None
        bad = volts < cfg.battery_rest_min_v
    since, held = sustained(st.since, t, bad, cfg.battery_sustain_s)
    state = BatteryState(off_since, since)
    if since is None:
        return state, CLEAR
    if not held:
        return state, None
    critical = rpm == 0 and volts < cfg.battery_critical_v
    detail: Detail = {"battery_v": volts, "engine": "running" if rpm > 0 else "off"}
    return state, Finding(True, Severity.CRITICAL if critical else Severity.WARNING, detail)


def dtc_active(
    since: Since, ev: TelemetryValues, t: float, cfg: RuleSettings
) -> tuple[Since, Finding | None]:
    """A trouble code reported for ``dtc_confirm_s``; a car that lists none has none."""
    codes = ev.dtcs or ()
    since, held = sustained(since, t, bool(codes), cfg.dtc_confirm_s)
    if since is None:
        return None, CLEAR
    if not held:
        return since, None
    critical = any(c.startswith(cfg.dtc_critical_prefixes) for c in codes)
    detail: Detail = {"codes": ",".join(sorted(codes))}
    return since, Finding(True, Severity.CRITICAL if critical else Severity.WARNING, detail)


def watermark(max_event_time: float, cfg: RuleSettings) -> float:
    """Event time up to which every record should have arrived."""
    return max_event_time - cfg.watermark_lateness_s


def vehicle_silent(
    last_time: float | None, mark: float | None, cfg: RuleSettings
) -> Finding | None:
    """No record from the car for ``silent_gap_s`` of fleet event time before the watermark.

    Judged on event time only: if the whole fleet stops sending (a paused
    simulator, a broker outage) the watermark stops too and nobody is silent.
    """
    if last_time is None or mark is None:
        return None
    gap = mark - last_time
    if gap < cfg.silent_gap_s:
        return None
    return Finding(True, Severity.WARNING, {"silent_s": round(gap, 1)})
