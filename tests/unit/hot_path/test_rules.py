"""Engine, fuel, battery, trouble-code and silence rules on hand-made sequences."""

from __future__ import annotations

from fleet.alerts import AlertKind, Severity
from hot_path import rules
from hot_path.config import RuleSettings
from hot_path.rules import CLEAR, BatteryState

from .readings import Fleet, reading

CFG = RuleSettings()
OPENED, RESOLVED = "opened", "resolved"


def kinds(fleet: Fleet) -> list[tuple[str, str]]:
    return [(str(a.kind), str(a.status)) for a in fleet.alerts]


def test_a_coolant_spike_is_not_an_overheat() -> None:
    fleet = Fleet()
    fleet.feed(*(reading(s) for s in range(10)))
    fleet.feed(reading(10, coolant_temp=130.0))
    fleet.feed(*(reading(s) for s in range(11, 200)))
    assert fleet.alerts == []


def test_sustained_coolant_above_the_limit_opens_then_resolves_once_cool() -> None:
    fleet = Fleet()
    heating = (reading(s, coolant_temp=min(90.0 + s, 125.0)) for s in range(60))
    fleet.feed(*heating)  # above 110 degC from s=21
    assert kinds(fleet) == [("engine_overheat", OPENED)]
    opened = fleet.alerts[0]
    assert opened.evidence_time == reading(51).event_time
    assert opened.opened_at == opened.evidence_time
    assert opened.severity is Severity.CRITICAL  # 125 degC by then
    assert opened.detail["coolant_temp_c"] == 125.0
    fleet.feed(*(reading(s, coolant_temp=100.0) for s in range(60, 119)))
    assert len(fleet.alerts) == 1  # clear for 59 s: still open
    fleet.feed(reading(120, coolant_temp=100.0))
    assert kinds(fleet)[-1] == ("engine_overheat", RESOLVED)
    assert fleet.alerts[-1].alert_id == opened.alert_id


def test_oil_pressure_is_judged_against_engine_speed() -> None:
    # 150 kPa is healthy at idle but far too little at 4000 rpm.
    since, finding = None, None
    for s in range(20):
        since, finding = rules.oil_pressure_low(
            since, reading(s, engine_speed=800.0, oil_pressure=150.0), float(s), CFG
        )
    assert finding == CLEAR
    for s in range(20, 40):
        since, finding = rules.oil_pressure_low(
            since, reading(s, engine_speed=4000.0, oil_pressure=150.0), float(s), CFG
        )
    assert finding is not None and finding.active and finding.severity is Severity.CRITICAL
    assert finding.detail["expected_min_kpa"] == 280.0


def test_an_engine_switched_off_has_no_oil_pressure_and_no_alert() -> None:
    fleet = Fleet()
    fleet.feed(*(reading(s, engine_speed=0.0, oil_pressure=0.0, speed=0.0) for s in range(300)))
    assert fleet.alerts == []


def test_a_leak_opens_oil_pressure_low_after_it_is_sustained() -> None:
    fleet = Fleet()
    fleet.feed(*(reading(s, engine_speed=800.0, oil_pressure=60.0) for s in range(9)))
    assert fleet.alerts == []  # 8 s: a dip, not yet a starved pump
    fleet.feed(*(reading(s, engine_speed=800.0, oil_pressure=60.0) for s in range(9, 12)))
    assert kinds(fleet) == [("oil_pressure_low", OPENED)]


def test_fuel_low_carries_the_range_and_refuelling_resolves_it() -> None:
    fleet = Fleet()
    fleet.feed(*(reading(s, fuel_level=9.5, range=60_000.0) for s in range(31)))
    assert kinds(fleet) == [("fuel_low", OPENED)]
    assert fleet.alerts[0].detail == {"fuel_level_percent": 9.5, "range_km": 60.0}
    assert fleet.alerts[0].severity is Severity.WARNING
    # Hovering just above the line (inside the hysteresis band) keeps it open.
    fleet.feed(*(reading(s, fuel_level=10.5, range=66_000.0) for s in range(31, 200)))
    assert len(fleet.alerts) == 1
    fleet.feed(*(reading(s, fuel_level=80.0, range=500_000.0) for s in range(200, 261)))
    assert kinds(fleet)[-1] == ("fuel_low", RESOLVED)


def test_range_alone_can_make_fuel_critical() -> None:
    since, finding = None, None
    for s in range(40):
        since, finding = rules.fuel_low(since, reading(s, fuel_level=None, range=9_000.0), s, CFG)
    assert finding is not None and finding.active and finding.severity is Severity.CRITICAL


def _battery(volts: float, rpm: float, seconds: range, st: BatteryState | None = None):  # type: ignore[no-untyped-def]
    state, finding = st or BatteryState(), None
    for s in seconds:
        ev = reading(s, battery_voltage=volts, engine_speed=rpm, speed=0.0, oil_pressure=0.0)
        state, finding = rules.battery_low(state, ev, float(s), CFG)
    return state, finding


def test_a_healthy_battery_at_rest_is_not_low() -> None:
    _, finding = _battery(12.6, 0.0, range(600))
    assert finding == CLEAR


def test_a_weak_battery_at_rest_is_low_once_the_surface_charge_has_settled() -> None:
    state, finding = _battery(11.8, 0.0, range(29))
    assert finding is None  # still settling after the engine stopped
    assert state.since is None
    state, finding = _battery(11.8, 0.0, range(29, 90), state)
    assert finding is None  # low for 59 s
    _, finding = _battery(11.8, 0.0, range(90, 92), state)
    assert finding is not None and finding.active and finding.severity is Severity.WARNING


def test_a_battery_that_is_not_charging_while_running_is_low() -> None:
    _, finding = _battery(12.9, 1500.0, range(70))
    assert finding is not None and finding.active
    assert finding.detail["engine"] == "running"


def test_a_trouble_code_is_confirmed_and_misfires_are_critical() -> None:
    fleet = Fleet()
    fleet.feed(reading(0, dtcs=("P0420",)), reading(1))  # a one-reading blip
    assert fleet.alerts == []
    fleet.feed(*(reading(s, dtcs=("P0300",)) for s in range(2, 10)))
    assert kinds(fleet) == [("dtc_active", OPENED)]
    assert fleet.alerts[0].severity is Severity.CRITICAL
    assert fleet.alerts[0].detail == {"codes": "P0300"}
    fleet.feed(*(reading(s) for s in range(10, 80)))
    assert kinds(fleet)[-1] == ("dtc_active", RESOLVED)


def test_silence_needs_the_gap_measured_against_the_watermark() -> None:
    mark = 1000.0
    assert rules.vehicle_silent(mark - CFG.silent_gap_s + 1, mark, CFG) is None
    finding = rules.vehicle_silent(mark - CFG.silent_gap_s, mark, CFG)
    assert finding is not None and finding.active
    assert rules.watermark(2000.0, CFG) == 2000.0 - CFG.watermark_lateness_s


def test_all_kinds_are_covered_by_a_rule() -> None:
    # Every word of the shared vocabulary has a detector behind it.
    fleet = Fleet()
    fleet.feed(reading(0))
    assert set(fleet.vehicles) and {k.value for k in AlertKind} == {
        "engine_overheat", "oil_pressure_low", "tyre_pressure_low", "fuel_low",
        "battery_low", "dtc_active", "harsh_driving", "vehicle_silent",
    }  # fmt: skip
