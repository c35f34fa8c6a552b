"""Applying planned faults to the running physics, and recording what showed.

Each fault kind flips one piece of state in `simulator.physics` or
`simulator.engine` at its start and restores it at its end (the repair).

Faults that only show while the car is in use (`IN_USE`: an overheating
engine, an oil leak, an aggressive driver) start the next time the victim's
engine runs at or after the planned instant, and their window counts engine
running time: the part stays broken, parked or not, until the car has been
used for the fault's duration with it (the driver then has it repaired). So
every such fault gives a detector its whole duration of the car in use, and
the truth window (start to repair) is the time the part was broken. A silent
car hides every signal, so no fault starts while a car is silent and no car
with a fault goes silent: the later one waits until the other has ended. A
fault that has waited so long that its longest window no longer fits in the
run is dropped.

``fuel_low`` is special: the fault is a driver who ignores the warning, so
its truth window opens when the tank actually drops under the warning level
and closes when a refuel lifts it again; the driver gives in once the warning
has been lit for the fault's duration (or after `FUEL_IGNORE_MAX_S` if the
tank never got that low). Any other car under the warning (some start nearly
empty) gets a truth window the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleet.alerts import AlertKind
from simulator.engine import OVERHEAT_COOLANT_MASS, OVERHEAT_COOLING, Engine
from simulator.faults import DTC_CODES, DURATION_S, IN_USE, FaultRecord, PlannedFault
from simulator.physics import Driving

LOW_FUEL_PERCENT = 10.0  # the dashboard warning lights under a tenth of a tank
GAUGE_DECIMALS = 1  # the level is reported to 0.1 % (simulator.records)
JERRYCAN_L = 10.0
FUEL_IGNORE_MAX_S = 4 * 3600.0


@dataclass
class _Open:
    rec: FaultRecord
    fault: PlannedFault
    left_s: float
    """Wall (simulated) seconds left, or engine-running seconds for `IN_USE` kinds."""


@dataclass
class _Ignoring:
    """A driver ignoring the fuel warning: the truth record and when he gives in."""

    rec: FaultRecord
    lit_for_s: float
    give_up_at: float


class FaultInjector:
    def __init__(self, driving: Driving, engine: Engine, end_s: float = float("inf")) -> None:
        self.driving, self.engine = driving, engine
        self.end_s = end_s
        self.fault_log: list[FaultRecord] = []
        self.silent = np.zeros(driving.n, dtype=bool)
        self._open: list[_Open] = []
        self._waiting: list[PlannedFault] = []
        self._fuel_watch: list[FaultRecord] = []
        self._ignoring: list[_Ignoring] = []

    def begin(self, fault: PlannedFault, t: float) -> None:
        car, kind, d, e = fault.car, fault.kind, self.driving, self.engine
        if kind is AlertKind.FUEL_LOW:
            # The driver who ignores the warning: the emptiest tank not already ignored.
            taken = d.ignore_fuel.copy()
            taken[[w.car for w in self._fuel_watch]] = True
            level = np.where(taken, np.inf, d.fuel / d.tank)
            car = int(np.argmin(level))
            d.ignore_fuel[car] = True
            watch = FaultRecord(car, kind, start_s=-1.0)
            self._fuel_watch.append(watch)
            self._ignoring.append(_Ignoring(watch, fault.duration_s, t + FUEL_IGNORE_MAX_S))
            return
        if any(o.rec.car == car and o.rec.kind is kind for o in self._open):
            return  # already broken: one fault of a kind per car at a time
        if t - fault.at_s > 1.0 and t > self.end_s - DURATION_S[kind][1]:
            return  # it waited too long to run its course before the run ends
        # A silent car hides every signal: a fault does not start on a car that is silent,
        # nor does a car with a fault go silent, until the other has ended.
        busy = any(o.rec.car == car for o in self._open)
        if self.silent[car] or (kind is AlertKind.VEHICLE_SILENT and busy):
            self._waiting.append(fault)
            return
        if kind in IN_USE and not d.engine_on[car]:
            self._waiting.append(fault)  # it shows once the car is used again
            return
        if kind is AlertKind.ENGINE_OVERHEAT:
            e.cooling[car] = OVERHEAT_COOLING
            e.coolant_mass[car] = OVERHEAT_COOLANT_MASS
        elif kind is AlertKind.OIL_PRESSURE_LOW:
            e.leaking[car] = True
        elif kind is AlertKind.TYRE_PRESSURE_LOW:
            if e.puncture[car] >= 0:
                return
            e.puncture[car] = fault.detail % 4
        elif kind is AlertKind.BATTERY_LOW:
            e.weak_battery[car] = True
        elif kind is AlertKind.DTC_ACTIVE:
            e.dtc[car] = fault.detail % len(DTC_CODES)
        elif kind is AlertKind.HARSH_DRIVING:
            d.harsh[car] = True
        elif kind is AlertKind.VEHICLE_SILENT:
            self.silent[car] = True
        rec = FaultRecord(car, kind, t)
        self.fault_log.append(rec)
        self._open.append(_Open(rec, fault, fault.duration_s))

    def end_due(self, t: float) -> None:
        """Start the waiting faults whose car is in use, and repair the faults that are over."""
        if self._waiting:
            waiting, self._waiting = self._waiting, []
            for fault in waiting:
                self.begin(fault, t)
        due = [item for item in self._open if item.left_s <= 0.0]
        if not due:
            return
        self._open = [item for item in self._open if item.left_s > 0.0]
        d, e = self.driving, self.engine
        for item in due:
            rec = item.rec
            car, kind = rec.car, rec.kind
            rec.end_s = t
            if kind is AlertKind.ENGINE_OVERHEAT:
                e.cooling[car], e.coolant_mass[car] = 1.0, 1.0
            elif kind is AlertKind.OIL_PRESSURE_LOW:
                e.leaking[car], e.oil_level[car] = False, 1.0
            elif kind is AlertKind.TYRE_PRESSURE_LOW:
                e.repair_tyre(car)
            elif kind is AlertKind.BATTERY_LOW:
                e.weak_battery[car] = False
            elif kind is AlertKind.DTC_ACTIVE:
                e.dtc[car] = -1
            elif kind is AlertKind.HARSH_DRIVING:
                d.harsh[car] = False
            elif kind is AlertKind.VEHICLE_SILENT:
                self.silent[car] = False

    def elapse(self, dt: float) -> None:
        """Count ``dt`` simulated seconds against the open faults (running time for `IN_USE`)."""
        if not self._open:
            return
        running = self.driving.engine_on
        for item in self._open:
            if item.rec.kind not in IN_USE or running[item.rec.car]:
                item.left_s -= dt

    def watch_fuel(self, t: float) -> None:
        d = self.driving
        for item in list(self._ignoring):
            rec, car = item.rec, item.rec.car
            lit = rec.start_s >= 0 and t - rec.start_s >= item.lit_for_s
            if lit or (rec.start_s < 0 and t >= item.give_up_at):
                d.ignore_fuel[car] = False  # the driver gives in and heads for the pumps
                if d.fuel[car] < 0.5:  # ran dry: a can from the boot, then to the pumps
                    d.fuel[car] += JERRYCAN_L
                    d.refuelled[car] += JERRYCAN_L
                self._ignoring.remove(item)
        # A tank under the warning is a fuel_low condition whether or not a fault
        # put it there (some cars start low): the truth lists it either way. Low is
        # what the gauge reports: a tank at 9.97 % reads 10.0 and lights nothing.
        gauge = np.round(100.0 * d.fuel / d.tank, GAUGE_DECIMALS)
        under = gauge < LOW_FUEL_PERCENT
        watched = {rec.car for rec in self._fuel_watch}
        for car in np.flatnonzero(under).tolist():
            if car not in watched:
                self._fuel_watch.append(FaultRecord(car, AlertKind.FUEL_LOW, start_s=-1.0))
        for rec in list(self._fuel_watch):
            low = bool(under[rec.car])
            if rec.start_s < 0 and low:
                rec.start_s = t
                self.fault_log.append(rec)
            elif rec.start_s >= 0 and not low:
                rec.end_s = t
                self._fuel_watch.remove(rec)
            elif rec.start_s < 0 and not d.ignore_fuel[rec.car]:
                self._fuel_watch.remove(rec)  # the window passed before the warning lit
