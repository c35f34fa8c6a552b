"""The simulation as a pure, seeded iterator of record batches.

`Simulation` owns the fleet, the network and every random stream; iterating it
yields one `Batch` per reporting instant (every ``1/hz`` simulated seconds),
holding the Kafka key and JSON value of each record. It never touches a
network or a clock: the producer loop in `simulator.runner` decides how fast
to consume it and where the records go. The same seed gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from simulator.engine import Engine, ambient_c
from simulator.faults import DTC_CODES, FaultRecord, PlannedFault, plan_faults
from simulator.injection import FaultInjector
from simulator.network import ZONE_NAMES, Network, rush_hour
from simulator.physics import Driving
from simulator.realism import Realism, Record
from simulator.records import encode_rows
from simulator.vehicles import CLASSES, Fleet, make_fleet

MAX_PHYSICS_STEP_S = 1.0
# What a trip computer assumes when it turns fuel left into range.
CLASS_L_PER_100KM = {"small_petrol": 6.5, "sedan_petrol": 7.5, "suv_petrol": 10.0,
                     "van_diesel": 10.0}  # fmt: skip


@dataclass(frozen=True)
class Batch:
    t: float  # simulated seconds since the start
    records: list[Record]


class Simulation:
    def __init__(
        self,
        *,
        cars: int,
        hz: float,
        duration_s: float,
        start: datetime,
        seed: int,
        fault_rate: float,
        realism: Realism | None = None,
        faults: list[PlannedFault] | None = None,
    ) -> None:
        fleet_ss, physics_ss, fault_ss, transport_ss = np.random.SeedSequence(seed).spawn(4)
        self.fleet: Fleet = make_fleet(cars, np.random.default_rng(fleet_ss))
        self.net = Network()
        self.rng = np.random.default_rng(physics_ss)
        self.start, self.hz, self.duration_s = start, hz, duration_s
        self._start_hour = start.hour + start.minute / 60 + start.second / 3600
        self.driving = Driving(self.fleet, self.net, self.rng)
        self.engine = Engine(self.fleet, self.rng, ambient_c(self._start_hour))
        self.plan = (
            faults
            if faults is not None
            else plan_faults(np.random.default_rng(fault_ss), cars, duration_s, fault_rate)
        )
        self.realism = realism or Realism()
        self.realism.rng = np.random.default_rng(transport_ss)
        self.faults = FaultInjector(self.driving, self.engine, end_s=duration_s)
        self.seq = np.zeros(cars, dtype=np.int64)
        self.sent = 0
        self.t = 0.0
        period = 1.0 / hz
        # Each car reports at its own fixed phase within the period, as real
        # fleets are not synchronised; stamps are whole milliseconds.
        self._phase_ms = np.sort(self.rng.integers(0, max(1, int(period * 1000)), cars))
        self._start64 = np.datetime64(start.replace(tzinfo=None), "ms")
        self._keys = [v.encode("ascii") for v in self.fleet.vins]
        self._trip_ids = np.full(cars, None, dtype=object)
        self._trip_seen = np.full(cars, -1, dtype=np.int64)
        # Text columns are kept as bytes: records are assembled as bytes.
        zones = np.array([z.encode() for z in ZONE_NAMES], dtype=object)
        self._seg_names = np.array([s.encode() for s in self.net.seg_names.tolist()], dtype=object)
        self._route_origin = zones[[r.origin for r in self.net.routes]]
        self._route_dest = zones[[r.destination for r in self.net.routes]]
        self._l_per_m = np.array([CLASS_L_PER_100KM[CLASSES[c].name] for c in
                                  self.fleet.classes.tolist()]) / 100_000.0  # fmt: skip

    @property
    def ticks(self) -> int:
        return max(1, math.floor(self.duration_s * self.hz))

    def __iter__(self) -> Iterator[Batch]:
        period = 1.0 / self.hz
        substeps = max(1, math.ceil(period / MAX_PHYSICS_STEP_S))
        dt = period / substeps
        pending = iter(self.plan)
        upcoming = next(pending, None)
        for tick in range(self.ticks):
            if tick:
                for _ in range(substeps):
                    while upcoming is not None and upcoming.at_s <= self.t:
                        self.faults.begin(upcoming, self.t)
                        upcoming = next(pending, None)
                    self.faults.end_due(self.t)
                    self._step(dt)
                    self.faults.elapse(dt)
            self.faults.watch_fuel(self.t)
            records = self._records()
            if self.realism.active:
                records = self.realism.apply(self.t, records)
            self.sent += len(records)
            yield Batch(self.t, records)

    def drain(self) -> list[Record]:
        """Records still held back by transport realism; send them at the end."""
        return self.realism.drain()

    def close_faults(self) -> list[FaultRecord]:
        """Every fault that showed, open ones ending now, sorted by start."""
        for rec in self.faults.fault_log:
            if rec.end_s is None:
                rec.end_s = self.t
        return sorted(self.faults.fault_log, key=lambda r: (r.start_s, r.car, r.kind))

    def _step(self, dt: float) -> None:
        hour = (self._start_hour + self.t / 3600.0) % 24.0
        rush = rush_hour(hour)
        self.driving.step(self.t, dt, rush, self.rng)
        d = self.driving
        self.engine.step(dt, ambient_c(hour), d.v * 3.6, d.a, d.engine_on, self.rng)
        self.t += dt

    def _records(self) -> list[Record]:
        d, e, net = self.driving, self.engine, self.net
        show = ~self.faults.silent
        idx = np.flatnonzero(show) if not show.all() else None
        times = np.datetime_as_string(
            self._start64 + np.timedelta64(round(self.t * 1000), "ms")
            + self._phase_ms.astype("timedelta64[ms]"),
            unit="ms",
            timezone="UTC",
        ).astype("S")  # fmt: skip
        lat, lon = net.position(d.seg, d.s)
        gps = self.rng.normal(0.0, 2.7e-5, (2, d.n))  # ~3 m
        tyres = e.tyre_pressures()
        on_trip = d.route >= 0
        tank_level = d.fuel / d.tank
        signals = {
            "speed": d.v * 3.6,
            "acceleration": d.a,
            "odometer": d.odometer,
            "latitude": lat + gps[0],
            "longitude": lon + gps[1],
            # A GPS heading is good to a degree or two on the move and wanders
            # when the car stands still.
            "heading": np.round(
                net.seg_heading[d.seg]
                + self.rng.normal(0.0, 1.0, d.n) * np.where(d.v > 1.0, 1.5, 25.0),
                1,
            )
            % 360.0,
            "fuel_level": 100.0 * tank_level,
            "fuel_litres": d.fuel,
            "fuel_rate": np.minimum(d.rate_lph / np.maximum(d.v * 3.6, 0.1) * 100.0, 999.0),
            "range": d.fuel / self._l_per_m,
            "coolant_temp": e.coolant,
            "oil_temp": e.oil_temp,
            "oil_pressure": e.oil_pressure,
            "engine_speed": e.rpm,
            "tyre_front_left": tyres[:, 0],
            "tyre_front_right": tyres[:, 1],
            "tyre_rear_left": tyres[:, 2],
            "tyre_rear_right": tyres[:, 3],
            "battery_voltage": e.battery,
        }
        changed = np.flatnonzero(d.trip_no != self._trip_seen)
        for car in changed.tolist():
            self._trip_ids[car] = f"{self.fleet.vins[car]}.{int(d.trip_no[car]):05d}".encode()
        self._trip_seen[changed] = d.trip_no[changed]
        route = np.maximum(d.route, 0)
        nav = [
            np.where(on_trip, col, np.array(None, dtype=object))
            for col in (self._trip_ids, self._route_origin[route], self._route_dest[route],
                        self._seg_names[d.seg])
        ]  # fmt: skip
        dtcs = [(DTC_CODES[c],) if c >= 0 else None for c in e.dtc.tolist()]
        keys, seqs, time_list = self._keys, self.seq.tolist(), times.tolist()
        navs = [col.tolist() for col in nav]
        if idx is not None:  # silent cars send nothing
            pick = idx.tolist()
            keys, seqs = [keys[i] for i in pick], [seqs[i] for i in pick]
            time_list, dtcs = [time_list[i] for i in pick], [dtcs[i] for i in pick]
            navs = [[col[i] for i in pick] for col in navs]
            signals = {k: v[idx] for k, v in signals.items()}
        values = encode_rows(keys, seqs, time_list, navs, signals, dtcs)
        self.seq += show
        return list(zip(keys, values, strict=True))
