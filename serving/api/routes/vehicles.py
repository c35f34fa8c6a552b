"""``GET /vehicles`` and ``GET /vehicles/{vin}``: merged from the batch and speed layers."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Connection

from fleet.vin import VIN_PATTERN
from serving.api.deps import NAME_PATTERN, STORE_DOWN, Limit, Offset, StoreDep
from serving.config import DEFAULT_PAGE_SIZE
from serving.models import (
    Alert,
    Problem,
    VehicleDetail,
    VehiclePage,
    VehicleState,
    VehicleSummary,
    served,
)
from serving.queries.alerts import list_alerts
from serving.queries.vehicles import VehicleSort, list_vehicles, one_vehicle
from serving.queries.view import View

router = APIRouter(prefix="/vehicles", tags=["vehicles"], responses=STORE_DOWN)
# fullmatch: the pattern's `$` would also match before a trailing newline.
_VIN = re.compile(VIN_PATTERN)
MAX_OPEN_ALERTS = 1000
"""A car's open alerts are one per kind at most; this bounds a runaway hot path."""


@router.get("", response_model=VehiclePage)
async def vehicles(
    store: StoreDep,
    vehicle_class: Annotated[
        str | None,
        Query(
            alias="class",
            min_length=1,
            max_length=32,
            pattern=NAME_PATTERN,
            description="only this vehicle class (case-sensitive), e.g. `van_diesel`",
        ),
    ] = None,
    sort: VehicleSort = VehicleSort.EFFICIENCY,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
) -> VehiclePage:
    """Cars with distance, fuel and efficiency merged from both layers, one page at a time."""

    def read(conn: Connection, view: View) -> VehiclePage:
        total, page = list_vehicles(
            conn, view=view, vehicle_class=vehicle_class, sort=sort, limit=limit, offset=offset
        )
        layers = {layer for v in page for layer in v.merged.layers}
        return VehiclePage(
            served=served(view, layers),
            total=total,
            limit=limit,
            offset=offset,
            items=[VehicleSummary.of(v) for v in page],
        )

    return await store.read(read)


@router.get(
    "/{vin}",
    response_model=VehicleDetail,
    responses={404: {"model": Problem, "description": "no layer knows this VIN"}},
)
async def vehicle(
    store: StoreDep,
    vin: Annotated[
        str,
        Path(
            description="17 digits and capital letters except I, O and Q (ISO 3779)",
            examples=["1HGCM82633A004352"],
            # Documented for clients; checked below, for a clearer message than the pattern's.
            json_schema_extra={"pattern": VIN_PATTERN},
        ),
    ],
) -> VehicleDetail:
    """A car's newest state, its open alerts and its merged distance, fuel and efficiency."""
    if not _VIN.fullmatch(vin):
        # The validation error's own shape, so a 422 always looks as OpenAPI says.
        raise RequestValidationError([{
            "type": "vin", "loc": ("path", "vin"), "input": vin,
            "msg": f"not a VIN: 17 digits and capital letters except I, O and Q ({VIN_PATTERN})",
        }])  # fmt: skip
    return await store.read(lambda conn, view: _vehicle_detail(conn, view, vin))


def _vehicle_detail(conn: Connection, view: View, vin: str) -> VehicleDetail:
    """One car, in three statements on one connection: the view (`Store.read`), the car,
    its open alerts."""
    found, state = one_vehicle(conn, view=view, vin=vin)
    _, alerts = list_alerts(conn, status="open", vin=vin, limit=MAX_OPEN_ALERTS)
    if found is None and not alerts:
        raise HTTPException(
            status_code=404,
            detail=f"no vehicle with VIN {vin} in the batch or speed layer: check the VIN, "
            "or wait until the car has sent a reading",
        )
    layers = set(found.merged.layers) if found else set()
    if state is not None or alerts:
        layers.add("speed")
    summary = VehicleSummary.of(found) if found else None
    return VehicleDetail(
        served=served(view, layers),
        vin=vin,
        vehicle_class=summary.vehicle_class if summary else None,
        distance_km=summary.distance_km if summary else 0.0,
        fuel_used_l=summary.fuel_used_l if summary else 0.0,
        l_per_100km=summary.l_per_100km if summary else None,
        layers=sorted(layers),
        last_seen=summary.last_seen if summary else None,
        refuelled_l=found.refuelled_l if found else None,
        refuels=found.refuels if found else None,
        state=VehicleState(**state) if state else None,
        open_alerts=[Alert(**a) for a in alerts],
    )
