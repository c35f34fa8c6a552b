"""Driving physics for the whole fleet at once: trips, traffic lights, speed, fuel.

Every per-car quantity is a numpy array indexed by car, so one `Driving.step`
advances all cars with a few dozen array operations; only the handful of cars
that arrive or depart in a step go through Python code. Random draws have a
fixed shape per step (one number per car whether it needs it or not), so the
stream, and with it the whole run, is the same whatever the cars are doing.
"""

from __future__ import annotations

import numpy as np

from simulator.fuel import FuelModel
from simulator.network import ZONE_NAMES, Network
from simulator.vehicles import CLASSES, STYLES, Fleet

PARKED, DRIVING, AT_LIGHT = 0, 1, 2
REFUEL_BELOW = 0.20  # drivers head for the pumps under a fifth of a tank
REFUEL_L_PER_S = 0.6  # a car pump delivers about 35 l/min
MEAN_DWELL_S = 600.0
HARSH_ACCEL, HARSH_SPEED = 1.8, 1.15  # an aggressive episode, on top of the driver's style
# ... and at least what fleet telematics call harsh (~0.3 g away, ~0.4 g braking), so
# that a calm driver's episode is harsh in absolute terms too, not only against his habit.
HARSH_MIN_PULL, HARSH_MIN_BRAKE = 2.8, 4.0
# In an aggressive episode the driver also surges and brakes: he aims 40 % above,
# then 40 % below, the speed he would hold, over a cycle of 20-30 s (tailgating,
# weaving through traffic; each car its own cycle, wandering, so no reporting rate is
# in step with it), and closes the gap 2.5 times as fast as he normally would.
HARSH_SURGE, HARSH_GAIN = 0.4, 2.5
HARSH_CYCLE_S = (20.0, 30.0)


class Driving:
    """Where each car is, how fast it goes, and what it burns."""

    def __init__(self, fleet: Fleet, net: Network, rng: np.random.Generator) -> None:
        n = len(fleet)
        self.n, self.net = n, net
        # Trip choices get a stream per car and trip, so one car's changed timing
        # (a harsh episode, a missed refuel) leaves every other car's trips alone.
        self._trip_seed = int(rng.integers(2**63))
        self.fuel_model = FuelModel(fleet.classes)
        self.a_max = np.array([STYLES[s].accel for s in fleet.styles.tolist()])
        self.b_max = np.array([STYLES[s].brake for s in fleet.styles.tolist()])
        self.speed_factor = np.array([STYLES[s].speed_factor for s in fleet.styles.tolist()])
        self.tank = np.array([CLASSES[c].tank_l for c in fleet.classes.tolist()])

        self.mode = np.full(n, PARKED, dtype=np.int64)
        self.timer = rng.uniform(0.0, 300.0, n)  # stagger the first departures
        self.zone = rng.integers(0, len(ZONE_NAMES), n)
        self.seg = np.array([self._arrival_segment(z) for z in self.zone.tolist()], dtype=np.int64)
        self.s = net.seg_len[self.seg].copy()
        self.v, self.a = np.zeros(n), np.zeros(n)
        self.red = np.zeros(n, dtype=bool)
        self.route = np.full(n, -1, dtype=np.int64)
        self.trip_no = np.zeros(n, dtype=np.int64)
        self.trip_start, self.trip_fuel = np.zeros(n), np.zeros(n)

        self.odometer = rng.uniform(3_000.0, 180_000.0, n)
        nearly_empty = rng.random(n) < 0.08
        level = np.where(nearly_empty, rng.uniform(0.09, 0.14, n), rng.uniform(0.2, 0.95, n))
        self.fuel = level * self.tank
        self.rate_lph = np.zeros(n)
        self.distance_km, self.fuel_used, self.refuelled = np.zeros(n), np.zeros(n), np.zeros(n)
        self.refuelling = np.zeros(n, dtype=bool)
        self.harsh = np.zeros(n, dtype=bool)
        golden = (np.arange(n) * 0.618034) % 1.0  # spread without a random draw
        self._surge_phase = golden
        self._surge_cycle = HARSH_CYCLE_S[0] + (HARSH_CYCLE_S[1] - HARSH_CYCLE_S[0]) * golden[::-1]
        self.ignore_fuel = np.zeros(n, dtype=bool)

        routes = len(net.routes)
        self.route_trips = np.zeros(routes, dtype=np.int64)
        self.route_time, self.route_fuel = np.zeros(routes), np.zeros(routes)

    def _arrival_segment(self, zone: int) -> int:
        other = (zone + 1) % len(ZONE_NAMES)
        r = self.net.routes[self.net.by_pair[(other, zone)][0]]
        return r.first_segment + r.segments - 1

    @property
    def engine_on(self) -> np.ndarray:
        return (self.mode != PARKED) & (self.fuel > 0.0)

    def step(self, t: float, dt: float, rush: float, rng: np.random.Generator) -> None:
        """Advance every car by ``dt`` simulated seconds at simulated time ``t``."""
        net = self.net
        noise, lights, red_wait = (
            rng.standard_normal(self.n),
            rng.random(self.n),
            rng.random(self.n),
        )
        driving = self.mode == DRIVING
        seg, nxt = self.seg, net.seg_next[self.seg]
        end_of_route = nxt < 0
        flow = 1.0 - net.seg_congestion[seg] * rush
        boost = np.where(self.harsh, HARSH_SPEED, 1.0)
        cruise = net.seg_limit[seg] * flow * self.speed_factor * boost
        cruise = np.where(self.fuel > 0.0, cruise, 0.0)  # an empty tank coasts to a halt
        must_stop = self.red | end_of_route
        next_cruise = net.seg_limit[np.maximum(nxt, 0)] * flow * self.speed_factor * boost
        v_end = np.where(must_stop, 0.0, np.minimum(next_cruise, cruise))
        remaining = net.seg_len[seg] - self.s
        brake = np.where(
            self.harsh, np.maximum(self.b_max * HARSH_ACCEL, HARSH_MIN_BRAKE), self.b_max
        )
        reach = np.sqrt(v_end**2 + 2.0 * brake * np.maximum(remaining - 3.0, 0.0))
        target = np.minimum(cruise, reach)
        gap = (target - self.v) / 2.5
        if self.harsh.any():
            # The cycle wanders (+-25 %) so that no reporting period stays in step with it.
            cycles = t / self._surge_cycle + self._surge_phase
            turn = np.sin(2.0 * np.pi * (cycles + 0.17 * np.sin(2.0 * np.pi * cycles / 4.3)))
            surge = 1.0 + HARSH_SURGE * np.where(turn >= 0.0, 1.0, -1.0)
            gap = np.where(
                self.harsh, (np.minimum(cruise * surge, reach) - self.v) / 2.5 * HARSH_GAIN, gap
            )

        a_max = np.where(
            self.harsh, np.maximum(self.a_max * HARSH_ACCEL, HARSH_MIN_PULL), self.a_max
        )
        pull = a_max * (1.0 - self.v / 60.0)
        wanted = np.clip(gap, -1.5 * brake, pull)
        wanted += np.where(self.v > 1.0, 0.12 * noise, 0.0)  # the driver's foot is not a servo
        v_new = np.where(driving, np.maximum(self.v + wanted * dt, 0.0), 0.0)
        self.a = (v_new - self.v) / dt
        self.s = np.where(driving, self.s + 0.5 * (self.v + v_new) * dt, self.s)
        self.v = v_new

        # Fuel is integrated over the step from the VT-Micro-style rate.
        self.rate_lph = np.where(
            self.engine_on, self.fuel_model.rate_lph(self.v * 3.6, self.a), 0.0
        )
        burnt = np.minimum(self.rate_lph * dt / 3600.0, self.fuel)
        self.fuel -= burnt
        self.fuel_used += burnt
        self.trip_fuel += burnt
        km = self.v * dt / 1000.0
        self.odometer += km
        self.distance_km += km

        seg_len = net.seg_len[seg]
        stop_now = driving & must_stop & (self.s >= seg_len - 3.0) & (self.v < 1.5)
        self.s = np.where(stop_now | (driving & must_stop), np.minimum(self.s, seg_len), self.s)
        self.v = np.where(stop_now, 0.0, self.v)
        at_red = stop_now & self.red
        self.mode = np.where(at_red, AT_LIGHT, self.mode)
        self.timer = np.where(at_red, 10.0 + 35.0 * red_wait, self.timer)
        self.red &= ~at_red

        passing = driving & ~must_stop & (self.s >= seg_len)
        new_seg = np.where(passing, nxt, seg)
        self.s = np.where(passing, self.s - seg_len, self.s)
        self.red = np.where(passing, lights < net.seg_stop[new_seg], self.red)
        self.seg = new_seg

        waiting = self.mode != DRIVING
        self.timer = np.where(waiting, self.timer - dt, self.timer)
        self.mode = np.where((self.mode == AT_LIGHT) & (self.timer <= 0), DRIVING, self.mode)

        topped = self.refuelling & (self.mode == PARKED)
        if topped.any():
            add = np.where(topped, np.minimum(REFUEL_L_PER_S * dt, self.tank - self.fuel), 0.0)
            self.fuel += add
            self.refuelled += add
            self.refuelling &= self.fuel < self.tank - 1e-6

        for car in np.flatnonzero(stop_now & end_of_route).tolist():
            self._arrive(car, t + dt, self._trip_rng(car))
        departing = (self.mode == PARKED) & (self.timer <= 0) & ~self.refuelling
        for car in np.flatnonzero(departing).tolist():
            self._depart(car, t + dt, self._trip_rng(car))

    def _trip_rng(self, car: int) -> np.random.Generator:
        return np.random.default_rng((self._trip_seed, car, int(self.trip_no[car])))

    def _arrive(self, car: int, t: float, rng: np.random.Generator) -> None:
        route = int(self.route[car])
        self.route_trips[route] += 1
        self.route_time[route] += t - self.trip_start[car]
        self.route_fuel[route] += self.trip_fuel[car]
        self.mode[car] = PARKED
        self.zone[car] = self.net.routes[route].destination
        self.route[car] = -1
        self.timer[car] = 120.0 + rng.exponential(MEAN_DWELL_S)
        low = self.fuel[car] < REFUEL_BELOW * self.tank[car]
        self.refuelling[car] = bool(low and not self.ignore_fuel[car])

    def _depart(self, car: int, t: float, rng: np.random.Generator) -> None:
        origin = int(self.zone[car])
        dest = int(rng.integers(0, len(ZONE_NAMES) - 1))
        dest += dest >= origin  # any zone but this one
        choices = self.net.by_pair[(origin, dest)]
        route = choices[int(rng.integers(len(choices)))]
        self.route[car] = route
        self.seg[car] = self.net.route_first[route]
        self.s[car], self.v[car] = 0.0, 0.0
        self.mode[car] = DRIVING
        self.red[car] = bool(rng.random() < self.net.seg_stop[self.seg[car]])
        self.trip_no[car] += 1
        self.trip_start[car], self.trip_fuel[car] = t, 0.0
