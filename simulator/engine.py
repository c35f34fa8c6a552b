"""Engine and chassis signals: engine speed, coolant and oil, tyres, battery.

Each signal is a small first-order model driven by the driving state. Faults
act on exactly one of them (a failed cooling system only heats the coolant, a
leak only starves the oil pump, a puncture only deflates its tyre, a weak
battery only sags the voltage), so a detector can be scored against the signal
the fault should move. The engine faults show as a mechanic would see them: a
failed cooling system overheats only while the engine runs and makes heat (it
cools like any engine when switched off), and the oil leaks while the pump
pushes it out.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.vehicles import CLASSES, Fleet

IDLE_RPM = 780.0
UPSHIFT_KMH = np.array([0.0, 18.0, 32.0, 50.0, 70.0, 90.0])  # lower edge of gears 1..6
THERMOSTAT_C = 90.0
COLD_REFERENCE_C = 15.0  # recommended pressures are set on cold tyres at about 15 degC
ATMOSPHERE_KPA = 101.3
# A failed water pump with coolant lost: no flow through the radiator, and half the
# coolant left to take the engine's heat, so the temperature runs twice as fast.
OVERHEAT_COOLING = 0.0
OVERHEAT_COOLANT_MASS = 0.5
BOIL_C = 130.0  # the pressure cap vents: a 50/50 mix at ~1.4 bar boils near here
LEAK_PER_S = 1.0 / 1500.0  # oil level lost per second of running (the pump pushes it out)
PUNCTURE_KPA_PER_S = 2.5 / 60.0


def ambient_c(hour_of_day: float) -> float:
    """Air temperature of a mild day: 6 degC at dawn, 18 degC mid-afternoon."""
    return 12.0 + 6.0 * math.sin(2.0 * math.pi * (hour_of_day - 9.0) / 24.0)


class Engine:
    def __init__(self, fleet: Fleet, rng: np.random.Generator, ambient: float) -> None:
        n = len(fleet)
        classes = fleet.classes.tolist()
        self.n = n
        self.ratios = np.array([CLASSES[c].rpm_per_kmh for c in classes]).reshape(n, 6)
        self.tyre_nominal = np.array([CLASSES[c].tyre_kpa for c in classes])
        self.rpm = np.zeros(n)
        self.coolant = np.full(n, ambient)
        self.oil_temp = np.full(n, ambient)
        self.oil_pressure = np.zeros(n)
        self.tyre_cold = self.tyre_nominal[:, None] + rng.normal(0.0, 4.0, (n, 4))
        self.tyre_temp = np.full(n, ambient)
        self.battery = np.full(n, 12.6)
        # Fault state: what is broken on each car right now.
        self.cooling = np.ones(n)
        self.coolant_mass = np.ones(n)  # relative to a full cooling system
        self.oil_level = np.ones(n)
        self.leaking = np.zeros(n, dtype=bool)
        self.puncture = np.full(n, -1, dtype=np.int64)
        self.weak_battery = np.zeros(n, dtype=bool)
        self.dtc = np.full(n, -1, dtype=np.int64)

    def step(
        self,
        dt: float,
        ambient: float,
        v_kmh: np.ndarray,
        accel: np.ndarray,
        running: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        rows = np.arange(self.n)
        gear = np.clip(np.searchsorted(UPSHIFT_KMH, v_kmh, side="right") - 1, 0, 5)
        rpm = np.maximum(v_kmh * self.ratios[rows, gear], IDLE_RPM) + 150.0 * np.maximum(accel, 0)
        self.rpm = np.where(running, rpm, 0.0)

        # Coolant: combustion heat grows with engine speed; the thermostat keeps
        # the radiator shut below 90 degC; a little heat is always lost to the air.
        heat = np.where(running, 0.07 * self.rpm / 1000.0, 0.0)
        radiator = 0.05 * self.cooling * np.maximum(self.coolant - THERMOSTAT_C, 0.0)
        flow = (heat - radiator - 0.0005 * (self.coolant - ambient)) / self.coolant_mass
        self.coolant = np.minimum(self.coolant + flow * dt, BOIL_C)

        target = np.where(running, 100.0 + 10.0 * self.rpm / 3000.0, ambient)
        tau = np.where(running, 400.0, 1500.0)
        self.oil_temp += (target - self.oil_temp) * (1.0 - np.exp(-dt / tau))

        # Pump pressure rises with engine speed; thin hot oil holds less of it,
        # and a starved pump (low oil level) loses it altogether.
        self.oil_level = np.where(
            self.leaking & running,
            np.maximum(self.oil_level - LEAK_PER_S * dt, 0.15),
            self.oil_level,
        )
        viscosity = np.clip(1.6 - 0.006 * self.oil_temp, 0.95, 1.5)
        pressure = (70.0 + 0.11 * self.rpm) * viscosity * self.oil_level**1.5
        self.oil_pressure = np.where(running, pressure, 0.0)

        # Tyres warm with speed; the gas inside follows (absolute pressure ~ temperature).
        tyre_target = ambient + 0.22 * v_kmh
        self.tyre_temp += (tyre_target - self.tyre_temp) * (1.0 - math.exp(-dt / 600.0))
        flat = self.puncture >= 0
        if flat.any():
            idx = np.flatnonzero(flat)
            tyre = self.puncture[idx]
            self.tyre_cold[idx, tyre] = np.maximum(
                self.tyre_cold[idx, tyre] - PUNCTURE_KPA_PER_S * dt, 40.0
            )

        charging = np.where(self.weak_battery, 12.9, 14.2)
        resting = np.where(self.weak_battery, 11.8, 12.6)
        self.battery = np.where(running, charging, resting) + rng.normal(0.0, 0.03, self.n)

    def tyre_pressures(self) -> np.ndarray:
        """Gauge pressure (kPa) of the four tyres at their current temperature, shape (n, 4)."""
        ratio = (self.tyre_temp + 273.15) / (COLD_REFERENCE_C + 273.15)
        return (self.tyre_cold + ATMOSPHERE_KPA) * ratio[:, None] - ATMOSPHERE_KPA

    def repair_tyre(self, car: int) -> None:
        tyre = int(self.puncture[car])
        self.tyre_cold[car, tyre] = self.tyre_nominal[car]
        self.puncture[car] = -1
