"""The fleet-wide views: the efficiency leaderboard and route recommendations."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from fleet.store import bytewise, route_rankings
from serving.merge import Totals, l_per_100km
from serving.queries.vehicles import VehicleSort, VehicleTotals, merged_vehicles, sort_vehicles
from serving.queries.view import View


@dataclass(frozen=True, slots=True)
class ClassTotals:
    vehicle_class: str | None
    vehicles: int
    totals: Totals

    @property
    def l_per_100km(self) -> float | None:
        return l_per_100km(self.totals)


def leaderboard(
    conn: Connection, *, view: View, limit: int
) -> tuple[list[VehicleTotals], list[ClassTotals]]:
    """The most efficient cars (merged figures) and every class's pooled efficiency.

    A class's figure is its cars' litres over their kilometres (a car with a
    long distance weighs more), as the batch's class view computes it.
    """
    vehicles = merged_vehicles(conn, view=view)
    pooled: dict[str | None, list[VehicleTotals]] = defaultdict(list)
    for v in vehicles:
        pooled[v.vehicle_class].append(v)
    classes = [
        ClassTotals(cls, len(members), sum((m.merged.totals for m in members), start=Totals()))
        for cls, members in pooled.items()
    ]
    classes.sort(key=lambda c: (c.l_per_100km is None, c.l_per_100km or 0.0, c.vehicle_class or ""))
    ranked = [v for v in vehicles if v.merged.l_per_100km is not None]
    return sort_vehicles(ranked, sort=VehicleSort.EFFICIENCY)[:limit], classes


def recommendations(
    conn: Connection, *, view: View, origin: str | None, destination: str | None
) -> list[dict[str, Any]]:
    """Ranked routes per origin and destination, least fuel first (batch layer only)."""
    if view.version is None:
        return []
    r = route_rankings.c
    query = select(route_rankings).where(r.version == view.version)
    if origin is not None:
        query = query.where(r.origin == origin)
    if destination is not None:
        query = query.where(r.destination == destination)
    text = [bytewise(c, conn.dialect) for c in (r.origin, r.destination, r.route)]
    query = query.order_by(text[0], text[1], r.rank_fuel, text[2])
    return [{k: v for k, v in r_._mapping.items() if k != "version"} for r_ in conn.execute(query)]
