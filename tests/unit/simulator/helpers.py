"""Builders for simulator unit tests: small seeded runs, decoded."""

from __future__ import annotations

from collections import defaultdict

from fleet.telemetry import TelemetryEvent, decode_event
from simulator.config import SEEDED_START
from simulator.faults import PlannedFault
from simulator.generator import Simulation
from simulator.realism import Realism, Record


def simulation(
    *,
    cars: int = 20,
    hz: float = 1.0,
    duration_s: float = 600.0,
    seed: int = 11,
    fault_rate: float = 0.0,
    faults: list[PlannedFault] | None = None,
    realism: Realism | None = None,
) -> Simulation:
    return Simulation(
        cars=cars,
        hz=hz,
        duration_s=duration_s,
        start=SEEDED_START,
        seed=seed,
        fault_rate=fault_rate,
        faults=faults,
        realism=realism,
    )


def records(sim: Simulation) -> list[Record]:
    out = [r for batch in sim for r in batch.records]
    return out + sim.drain()


def by_car(recs: list[Record]) -> dict[str, list[TelemetryEvent]]:
    cars: dict[str, list[TelemetryEvent]] = defaultdict(list)
    for _, value in recs:
        event = decode_event(value)
        cars[event.vin].append(event)
    return cars
