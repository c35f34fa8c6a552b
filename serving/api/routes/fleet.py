"""``GET /fleet/efficiency`` and ``GET /routes/recommendations``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Connection

from serving.api.deps import NAME_PATTERN, STORE_DOWN, Limit, StoreDep
from serving.config import DEFAULT_PAGE_SIZE
from serving.models import (
    ClassEfficiency,
    Leaderboard,
    RankedVehicle,
    Recommendations,
    RouteRanking,
    VehicleSummary,
    served,
)
from serving.queries.fleet import ClassTotals, leaderboard, recommendations
from serving.queries.vehicles import VehicleTotals
from serving.queries.view import View

router = APIRouter(prefix="/fleet", tags=["fleet"], responses=STORE_DOWN)
routes_router = APIRouter(prefix="/routes", tags=["routes"], responses=STORE_DOWN)
Zone = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        pattern=NAME_PATTERN,
        description="a zone name (case-sensitive), e.g. `depot`",
    ),
]


@router.get("/efficiency", response_model=Leaderboard)
async def efficiency(
    store: StoreDep,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> Leaderboard:
    """The most fuel-efficient cars and each vehicle class, on merged figures."""

    def read(conn: Connection, view: View) -> tuple[View, list[VehicleTotals], list[ClassTotals]]:
        return view, *leaderboard(conn, view=view, limit=limit)

    view, vehicles, classes = await store.read(read)
    layers = {layer for v in vehicles for layer in v.merged.layers}
    return Leaderboard(
        served=served(view, layers),
        vehicles=[
            RankedVehicle(rank=i, **VehicleSummary.of(v).model_dump())
            for i, v in enumerate(vehicles, start=1)
        ],
        classes=[
            ClassEfficiency(
                vehicle_class=c.vehicle_class,
                vehicles=c.vehicles,
                distance_km=c.totals.distance_km,
                fuel_used_l=c.totals.fuel_used_l,
                l_per_100km=c.l_per_100km,
            )
            for c in classes
        ],
    )


@routes_router.get("/recommendations", response_model=Recommendations)
async def route_recommendations(
    store: StoreDep,
    origin: Zone = None,
    destination: Zone = None,
) -> Recommendations:
    """Routes between places, least fuel first; ``recommended`` marks the pick (batch layer)."""

    def read(conn: Connection, view: View) -> tuple[View, list[dict[str, Any]]]:
        return view, recommendations(conn, view=view, origin=origin, destination=destination)

    view, rows = await store.read(read)
    return Recommendations(
        served=served(view, ["batch"] if view.version is not None else []),
        items=[RouteRanking(**r) for r in rows],
    )
