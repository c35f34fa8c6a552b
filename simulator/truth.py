"""The ground truth a run leaves behind, for scoring the hot and cold paths.

- ``faults.jsonl``: every injected fault that showed: ``vin``, ``kind``,
  ``start``, ``end`` (ISO-8601 event time, UTC);
- ``vehicles.jsonl``: per car its class, driver style, true distance, fuel
  burnt, fuel refuelled, l/100 km and completed trips;
- ``routes.jsonl``: per origin-destination pair, its routes with length,
  free-flow time and, over the trips completed on it, the true mean travel
  time and fuel;
- ``run.json``: the parameters, the record counts and what transport realism
  did (duplicates, late, reordered, malformed by kind).

Files are written whole to a temporary name and renamed, so a reader never
sees half a file.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from simulator.generator import Simulation
from simulator.network import ZONE_NAMES
from simulator.vehicles import CLASSES, STYLES


def iso(start: datetime, seconds: float) -> str:
    moment = start + timedelta(milliseconds=round(seconds * 1000))
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fault_rows(sim: Simulation) -> list[dict[str, Any]]:
    vins = sim.fleet.vins
    return [
        {
            "vin": vins[f.car],
            "kind": str(f.kind),
            "start": iso(sim.start, f.start_s),
            "end": iso(sim.start, f.end_s if f.end_s is not None else sim.t),
        }
        for f in sim.close_faults()
    ]


def vehicle_rows(sim: Simulation) -> list[dict[str, Any]]:
    d, fleet = sim.driving, sim.fleet
    rows = []
    for car, vin in enumerate(fleet.vins):
        km, used = float(d.distance_km[car]), float(d.fuel_used[car])
        rows.append(
            {
                "vin": vin,
                "class": CLASSES[int(fleet.classes[car])].name,
                "driver": STYLES[int(fleet.styles[car])].name,
                "distance_km": round(km, 3),
                "fuel_used_l": round(used, 3),
                "refuelled_l": round(float(d.refuelled[car]), 3),
                "l_per_100km": round(used / km * 100.0, 3) if km > 0.1 else None,
                "trips": int(d.trip_no[car]) - (1 if d.route[car] >= 0 else 0),
            }
        )
    return rows


def route_rows(sim: Simulation) -> list[dict[str, Any]]:
    d, net = sim.driving, sim.net
    rows = []
    for (o, dest), indexes in net.by_pair.items():
        routes = []
        for i in indexes:
            r, trips = net.routes[i], int(d.route_trips[i])
            fuel = float(d.route_fuel[i]) / trips if trips else None
            routes.append(
                {
                    "route_id": r.route_id,
                    "kind": r.kind,
                    "length_km": round(r.length_km, 3),
                    "free_flow_s": round(r.free_flow_s, 1),
                    "trips": trips,
                    "mean_travel_time_s": round(float(d.route_time[i]) / trips, 1)
                    if trips
                    else None,
                    "mean_fuel_l": round(fuel, 4) if fuel is not None else None,
                }
            )
        rows.append({"origin": ZONE_NAMES[o], "destination": ZONE_NAMES[dest], "routes": routes})
    return rows


def write_truth(directory: Path, sim: Simulation, run: dict[str, Any]) -> list[Path]:
    """Write the four truth files into ``directory``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    faults = fault_rows(sim)
    run = {
        **run,
        "start": iso(sim.start, 0.0),
        "end": iso(sim.start, sim.t),
        "faults": len(faults),
        "transport": dict(sorted(sim.realism.counts.items())),
    }
    files = {
        "faults.jsonl": _jsonl(faults),
        "vehicles.jsonl": _jsonl(vehicle_rows(sim)),
        "routes.jsonl": _jsonl(route_rows(sim)),
        "run.json": orjson.dumps(run, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n",
    }
    written = []
    for name, data in files.items():
        path = directory / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        written.append(path)
    return written


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)
