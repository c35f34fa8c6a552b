"""An injected fault moves the signals the real fault would, and only those."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from fleet.alerts import AlertKind
from fleet.telemetry import VSS_PATHS, TelemetryEvent
from simulator.config import SEEDED_START
from simulator.faults import REST_S, TAIL_S, PlannedFault, plan_faults
from simulator.truth import fault_rows
from tests.unit.simulator.helpers import by_car, records, simulation

CAR, AT, LENGTH = 3, 300.0, 1200.0
DURATION = 1800.0

# kind -> (attribute that must change, whether it goes down)
EFFECTS = {
    AlertKind.ENGINE_OVERHEAT: ("coolant_temp", False),
    AlertKind.OIL_PRESSURE_LOW: ("oil_pressure", True),
    AlertKind.BATTERY_LOW: ("battery_voltage", True),
}
SIGNALS = [name for name in VSS_PATHS if name != "vin"]


def _runs(kind: AlertKind, detail: int = 1) -> tuple[list[TelemetryEvent], list[TelemetryEvent]]:
    """The faulty car's events without and with the fault; every other car must not change."""
    fault = PlannedFault(AT, CAR, kind, LENGTH, detail)
    base = simulation(hz=0.5, duration_s=DURATION, faults=[])
    hit = simulation(hz=0.5, duration_s=DURATION, faults=[fault])
    key = hit.fleet.vins[CAR].encode()
    plain, faulty = records(base), records(hit)
    assert [r for r in plain if r[0] != key] == [r for r in faulty if r[0] != key]
    return (by_car([r for r in plain if r[0] == key])[key.decode()],
            by_car([r for r in faulty if r[0] == key])[key.decode()])  # fmt: skip


def _changed(a: list[TelemetryEvent], b: list[TelemetryEvent]) -> set[str]:
    return {name for x, y in zip(a, b, strict=True) for name in SIGNALS
            if getattr(x, name) != getattr(y, name)}  # fmt: skip


@pytest.mark.parametrize("kind", list(EFFECTS))
def test_fault_moves_only_its_signal(kind: AlertKind) -> None:
    base, hit = _runs(kind)
    signal, down = EFFECTS[kind]
    assert _changed(base, hit) == {signal}
    # Compare with the engine running: a parked car has no oil pressure either way.
    before = [getattr(e, signal) for e in base if e.engine_speed]
    after = [getattr(e, signal) for e in hit if e.engine_speed]
    if down:
        assert min(after) < min(before) * 0.8 or min(after) < min(before) - 0.5
    else:
        assert max(after) > 110.0 > max(before)


def test_puncture_deflates_one_tyre() -> None:
    base, hit = _runs(AlertKind.TYRE_PRESSURE_LOW, detail=2)
    assert _changed(base, hit) == {"tyre_rear_left"}
    assert min(e.tyre_rear_left or 0 for e in hit) < 200 < min(e.tyre_rear_left or 0 for e in base)


def test_trouble_code_appears_only_during_the_fault() -> None:
    base, hit = _runs(AlertKind.DTC_ACTIVE)
    assert _changed(base, hit) == {"dtcs"}
    start = SEEDED_START + timedelta(seconds=AT)
    end = start + timedelta(seconds=LENGTH)
    # Stamps carry the car's phase (< one period) on top of the instant sampled.
    edge = timedelta(seconds=2)
    for event in hit:
        if start + edge < event.event_time < end:
            assert event.dtcs == ("P0171",)
        elif not (start <= event.event_time <= end + edge):
            assert event.dtcs is None


def test_silent_car_sends_nothing_for_the_window_then_resumes() -> None:
    base, hit = _runs(AlertKind.VEHICLE_SILENT)
    gap = max((b.event_time - a.event_time).total_seconds()
              for a, b in zip(hit, hit[1:], strict=False))  # fmt: skip
    assert LENGTH - 3 <= gap <= LENGTH + 3
    assert [e.seq for e in hit] == list(range(len(hit))), "seq counts sent records, no holes"
    sent = {(e.event_time, e.speed, e.coolant_temp) for e in hit}
    assert sent <= {(e.event_time, e.speed, e.coolant_temp) for e in base}
    assert len(hit) < len(base)


def test_harsh_episode_brings_harder_acceleration() -> None:
    base, hit = _runs(AlertKind.HARSH_DRIVING)
    window = [e for e in hit if AT < (e.event_time - SEEDED_START).total_seconds() < AT + LENGTH]
    calm = [e for e in base if AT < (e.event_time - SEEDED_START).total_seconds() < AT + LENGTH]
    assert max(abs(e.acceleration or 0) for e in window) > max(
        abs(e.acceleration or 0) for e in calm
    )


def test_truth_lists_the_fault_with_its_window() -> None:
    sim = simulation(
        duration_s=DURATION, faults=[PlannedFault(AT, CAR, AlertKind.BATTERY_LOW, LENGTH)]
    )
    records(sim)
    (row,) = [r for r in fault_rows(sim) if r["kind"] == "battery_low"]
    assert row == {"vin": sim.fleet.vins[CAR], "kind": "battery_low",
                   "start": "2026-01-05T05:05:00.000Z",
                   "end": "2026-01-05T05:25:00.000Z"}  # fmt: skip


def test_planned_rate_matches_the_setting() -> None:
    plan = plan_faults(np.random.default_rng(1), cars=1000, duration_s=3600, rate=0.5)
    assert 400 < len(plan) < 600
    assert {f.kind for f in plan} == set(AlertKind)
    assert plan_faults(np.random.default_rng(1), cars=1000, duration_s=3600, rate=0) == []


def test_low_fuel_driver_drives_on_below_the_warning() -> None:
    sim = simulation(cars=30, hz=0.1, duration_s=3 * 3600, seed=8,
                     faults=[PlannedFault(60.0, -1, AlertKind.FUEL_LOW, 5400.0)])  # fmt: skip
    recs = records(sim)
    # The ignoring driver's window is the longest: other low tanks go to the pumps.
    row = max((r for r in fault_rows(sim) if r["kind"] == "fuel_low"), key=_length)
    events = by_car([r for r in recs if r[0] == row["vin"].encode()])[row["vin"]]
    during = [e for e in events if row["start"] <= _iso(e.event_time) < (row["end"] or "9999")]
    low = [e for e in during if e.fuel_level is not None and e.fuel_level < 10.0]
    assert low and any(e.speed for e in low), "the car keeps driving on a low tank"


def test_a_tank_under_the_warning_is_in_the_truth_even_without_a_fault() -> None:
    sim = simulation(cars=150, hz=0.2, duration_s=600.0, seed=4)
    recs = records(sim)
    first = {vin: events[0] for vin, events in by_car(recs).items()}
    starting_low = {
        vin for vin, e in first.items() if e.fuel_level is not None and e.fuel_level < 10
    }
    assert starting_low, "this seed starts some cars under the warning"
    rows = fault_rows(sim)
    assert {r["kind"] for r in rows} == {"fuel_low"}
    assert starting_low <= {r["vin"] for r in rows}


def _length(row: dict) -> float:
    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    if row["end"] is None:
        return float("inf")
    return (parse(row["end"]) - parse(row["start"])).total_seconds()


def _iso(moment) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_silent_car_sends_nothing_during_its_window_and_resumes_after() -> None:
    fault = PlannedFault(AT, CAR, AlertKind.VEHICLE_SILENT, LENGTH)
    base = simulation(hz=0.5, duration_s=DURATION, faults=[])
    hit = simulation(hz=0.5, duration_s=DURATION, faults=[fault])
    key = hit.fleet.vins[CAR].encode()
    plain, quiet = records(base), records(hit)
    assert [r for r in plain if r[0] != key] == [r for r in quiet if r[0] != key]

    def offsets(recs) -> list[float]:
        cars = by_car([r for r in recs if r[0] == key])[key.decode()]
        return [(e.event_time - SEEDED_START).total_seconds() for e in cars]

    inside = [t for t in offsets(quiet) if AT + 2 < t < AT + LENGTH - 2]
    assert inside == [], "no record while silent"
    assert any(t > AT + LENGTH for t in offsets(quiet)), "the car comes back"
    assert any(AT < t < AT + LENGTH for t in offsets(plain))


def test_an_engine_fault_waits_for_the_car_to_be_used_and_lasts_its_running_time() -> None:
    # A car parked at the planned instant: the fault starts when its engine next runs, and
    # its window holds LENGTH of engine running time, however long the car stands in it.
    base = by_car(records(simulation(hz=0.5, duration_s=3 * DURATION)))
    vin, at = _parked_then_driven(base)
    sim = simulation(hz=0.5, duration_s=3 * DURATION)
    sim.plan = [PlannedFault(at, sim.fleet.vins.index(vin), AlertKind.ENGINE_OVERHEAT, LENGTH)]
    events = by_car(records(sim))[vin]
    (row,) = [r for r in fault_rows(sim) if r["kind"] == "engine_overheat"]
    began = datetime.fromisoformat(row["start"].replace("Z", "+00:00"))
    ended = datetime.fromisoformat(row["end"].replace("Z", "+00:00"))
    planned = SEEDED_START + timedelta(seconds=at)
    first_run = min(e.event_time for e in events if e.engine_speed and e.event_time >= planned)
    assert began > planned and abs((first_run - began).total_seconds()) <= 2
    inside = [e for e in events if began <= e.event_time < ended]
    running_s = 2.0 * sum(1 for e in inside if e.engine_speed)  # 0.5 Hz: 2 s a record
    assert abs(running_s - LENGTH) <= 60
    assert max(e.coolant_temp or 0 for e in inside) > 115.0


def _parked_then_driven(cars: dict[str, list[TelemetryEvent]]) -> tuple[str, float]:
    """A car and an instant in 10-30 minutes when it is parked, driving again within 20."""
    for vin, events in cars.items():
        for i, e in enumerate(events):
            offset = (e.event_time - SEEDED_START).total_seconds()
            if not 600 <= offset <= 1800 or e.engine_speed != 0:
                continue
            later = [x for x in events[i:] if x.engine_speed]
            if later and 60 < (later[0].event_time - e.event_time).total_seconds() < 1200:
                return vin, offset
    raise AssertionError("this seed has no car parked after 10 minutes that drives again")


def test_every_fault_starts_early_enough_to_run_its_course() -> None:
    hours = 3 * 3600.0
    plan = plan_faults(np.random.default_rng(3), cars=500, duration_s=hours, rate=0.3)
    assert len(plan) > 300
    for fault in plan:
        assert fault.at_s <= hours - min(TAIL_S[fault.kind], hours / 2)
    seen: dict[tuple[int, AlertKind], float] = {}
    for fault in plan:  # the same car is not broken the same way twice in a row
        key = (fault.car, fault.kind)
        if fault.car >= 0 and key in seen:
            assert fault.at_s - seen[key] >= REST_S
        seen[key] = fault.at_s


def test_an_aggressive_episode_brakes_and_accelerates_hard_again_and_again() -> None:
    base, hit = _runs(AlertKind.HARSH_DRIVING)

    def hard(events: list[TelemetryEvent]) -> int:
        inside = [
            e for e in events if AT < (e.event_time - SEEDED_START).total_seconds() < AT + LENGTH
        ]
        return sum(
            1 for e in inside if (e.acceleration or 0) <= -4.0 or (e.acceleration or 0) >= 2.5
        )

    assert hard(base) == 0
    assert hard(hit) >= 10  # at 0.5 Hz over 20 minutes of an episode, seen many times
