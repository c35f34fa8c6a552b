"""Applying planned faults to the running physics, and recording what showed.

Each fault kind flips one piece of state in `simulator.physics` or
`simulator.engine` at its start and restores it at its end (the repair).
``fuel_low`` is special: the fault is a driver who ignores the warning, so
its truth window opens when the tank actually drops under the warning level
and closes when a refuel lifts it again. Any other car under the warning
(some start nearly empty) gets a truth window the same way.
"""

from __future__ import annotations

import numpy as np

from fleet.alerts import AlertKind
from simulator.engine import OVERHEAT_COOLING, Engine
from simulator.faults import DTC_CODES, FaultRecord, PlannedFault
from simulator.physics import Driving

LOW_FUEL = 0.10  # the dashboard warning lights under a tenth of a tank
JERRYCAN_L = 10.0


class FaultInjector:
    def __init__(self, driving: Driving, engine: Engine) -> None:
        self.driving, self.engine = driving, engine
        self.fault_log: list[FaultRecord] = []
        self.silent = np.zeros(driving.n, dtype=bool)
        self._open: list[tuple[float, FaultRecord, PlannedFault]] = []
        self._fuel_watch: list[FaultRecord] = []

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
            self._open.append((fault.at_s + fault.duration_s, watch, fault))
            return
        if kind is AlertKind.ENGINE_OVERHEAT:
            e.cooling[car] = OVERHEAT_COOLING
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
        self._open.append((fault.at_s + fault.duration_s, rec, fault))

    def end_due(self, t: float) -> None:
        due = [item for item in self._open if item[0] <= t]
        if not due:
            return
        self._open = [item for item in self._open if item[0] > t]
        d, e = self.driving, self.engine
        for _, rec, _fault in due:
            car, kind = rec.car, rec.kind
            if kind is AlertKind.FUEL_LOW:
                d.ignore_fuel[car] = False
                if d.fuel[car] < 0.5:  # ran dry: a can from the boot, then to the pumps
                    d.fuel[car] += JERRYCAN_L
                    d.refuelled[car] += JERRYCAN_L
                continue  # its truth closes when the level recovers
            rec.end_s = t
            if kind is AlertKind.ENGINE_OVERHEAT:
                e.cooling[car] = 1.0
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

    def watch_fuel(self, t: float) -> None:
        d = self.driving
        # A tank under the warning is a fuel_low condition whether or not a fault
        # put it there (some cars start low): the truth lists it either way.
        watched = {rec.car for rec in self._fuel_watch}
        for car in np.flatnonzero(d.fuel < LOW_FUEL * d.tank).tolist():
            if car not in watched:
                self._fuel_watch.append(FaultRecord(car, AlertKind.FUEL_LOW, start_s=-1.0))
        for rec in list(self._fuel_watch):
            low = d.fuel[rec.car] < LOW_FUEL * d.tank[rec.car]
            if rec.start_s < 0 and low:
                rec.start_s = t
                self.fault_log.append(rec)
            elif rec.start_s >= 0 and not low:
                rec.end_s = t
                self._fuel_watch.remove(rec)
            elif rec.start_s < 0 and not d.ignore_fuel[rec.car]:
                self._fuel_watch.remove(rec)  # the window passed before the warning lit
