"""Score the batch views against the simulator's ground truth (``vehicles.jsonl``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from sqlalchemy import Engine, select

from fleet.store import current_version, route_rankings, vehicle_efficiency

MAX_ERROR = 0.02
MIN_SPEARMAN = 0.99


@dataclass(frozen=True)
class VehicleScore:
    vin: str
    estimated: float | None
    true: float
    relative_error: float | None


@dataclass(frozen=True)
class Score:
    version: int
    vehicles: list[VehicleScore]
    spearman: float | None
    missing: list[str]
    """VINs the truth has and the view lacks (or has without a figure)."""
    routes_compared: int = 0
    route_disagreements: list[str] = field(default_factory=list)
    """Origin-destination pairs whose recommendation is not the truly cheapest route."""

    @property
    def max_error(self) -> float | None:
        errors = [v.relative_error for v in self.vehicles if v.relative_error is not None]
        return max(errors) if errors else None

    @property
    def median_error(self) -> float | None:
        errors = [v.relative_error for v in self.vehicles if v.relative_error is not None]
        return median(errors) if errors else None

    @property
    def passed(self) -> bool:
        return (
            not self.missing
            and self.max_error is not None
            and self.max_error <= MAX_ERROR
            and self.spearman is not None
            and self.spearman >= MIN_SPEARMAN
            and self.routes_compared > 0
            and not self.route_disagreements
        )


def ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties sharing the mean of their positions."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rank correlation: Pearson's r of the ranks; None below 2 points or no spread."""
    if len(xs) != len(ys) or len(xs) < 2:
        return None
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    if vx == 0 or vy == 0:
        return None
    return float(cov / (vx * vy) ** 0.5)


def score(engine: Engine, truth_dir: Path) -> Score:
    published = current_version(engine)
    if published is None:
        raise LookupError("no batch view has been published yet: run `python -m cold_path batch`")
    version = published[0]
    truth = {
        row["vin"]: float(row["l_per_100km"])
        for row in map(json.loads, (truth_dir / "vehicles.jsonl").read_text().splitlines())
        if row.get("l_per_100km") is not None
    }
    query = select(vehicle_efficiency.c.vin, vehicle_efficiency.c.l_per_100km).where(
        vehicle_efficiency.c.version == version
    )
    with engine.connect() as conn:
        estimated = {r.vin: r.l_per_100km for r in conn.execute(query)}
    vehicles = []
    for vin, true in sorted(truth.items()):
        est = estimated.get(vin)
        err = abs(est - true) / true if est is not None and true > 0 else None
        vehicles.append(VehicleScore(vin, est, true, err))
    paired = [(v.estimated, v.true) for v in vehicles if v.estimated is not None]
    rho = spearman([p[0] for p in paired], [p[1] for p in paired])
    missing = [v.vin for v in vehicles if v.estimated is None]
    compared, disagreements = _routes(engine, version, truth_dir / "routes.jsonl")
    return Score(version, vehicles, rho, missing, compared, disagreements)


def _routes(engine: Engine, version: int, truth_file: Path) -> tuple[int, list[str]]:
    """Compare each pair's recommended route with the truly cheapest route the fleet drove."""
    if not truth_file.exists():
        return 0, []
    cheapest = {}
    for pair in map(json.loads, truth_file.read_text().splitlines()):
        driven = [r for r in pair["routes"] if r.get("trips") and r.get("mean_fuel_l") is not None]
        if driven:
            best = min(driven, key=lambda r: r["mean_fuel_l"])
            cheapest[(pair["origin"], pair["destination"])] = best["route_id"]
    query = select(route_rankings).where(
        route_rankings.c.version == version, route_rankings.c.recommended
    )
    with engine.connect() as conn:
        recommended = {(r.origin, r.destination): r.route for r in conn.execute(query)}
    pairs = sorted(set(recommended) & set(cheapest))
    wrong = [
        f"{o} -> {d}: recommended {recommended[(o, d)]}, cheapest {cheapest[(o, d)]}"
        for o, d in pairs
        if recommended[(o, d)] != cheapest[(o, d)]
    ]
    return len(pairs), wrong
