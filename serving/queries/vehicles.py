"""Vehicles: batch totals and speed increments per car, merged by `serving.merge`.

The batch half is the batch's merge totals (``batch_vehicle_totals``: the speed
layer's own definition, `fleet.metrics.increment`, summed up to where the
speed buckets take over), not the efficiency view's refuel-aware smoothed
figures: only the former add up with the speed layer to a full recomputation.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Select, String, bindparam, cast, func, select

from fleet.store import speed_increments, speed_vehicle_state, vehicle_efficiency, vehicle_totals
from serving.merge import Merged, Totals, merge
from serving.queries.view import View


class VehicleSort(StrEnum):
    EFFICIENCY = "efficiency"  # lowest l/100 km first, cars without a figure last
    DISTANCE = "distance"  # longest first
    VIN = "vin"


@dataclass(frozen=True, slots=True)
class VehicleTotals:
    vin: str
    vehicle_class: str | None
    merged: Merged
    refuelled_l: float | None
    refuels: int | None
    last_seen: datetime | None
    batch_l_per_100km: float | None = None
    """The batch efficiency view's refuel-aware, smoothed figure (up to the watermark): the
    one scored against the simulator's truth, not part of the merge."""


def batch_rows(
    conn: Connection,
    *,
    view: View,
    vins: Collection[str] | None = None,
    vehicle_class: str | None = None,
) -> dict[str, Any]:
    """The published batch rows per VIN (empty before the first run)."""
    if view.version is None:
        return {}
    t = vehicle_efficiency.c
    query = select(vehicle_efficiency).where(t.version == view.version)
    if vins is not None:
        query = query.where(t.vin.in_(vins))
    if vehicle_class is not None:
        query = query.where(t.vehicle_class == vehicle_class)
    return {r.vin: r for r in conn.execute(query)}


def batch_totals(
    conn: Connection, *, view: View, vins: Collection[str] | None = None
) -> dict[str, Totals]:
    """The published batch half of the merge per VIN (empty before the first run)."""
    if view.version is None:
        return {}
    t = vehicle_totals.c
    query = select(t.vin, t.distance_km, t.fuel_used_l).where(t.version == view.version)
    if vins is not None:
        query = query.where(t.vin.in_(vins))
    return {vin: Totals(d, f) for vin, d, f in conn.execute(query)}


def speed_sums(
    conn: Connection, *, view: View, vins: Collection[str] | None = None
) -> dict[str, Totals]:
    """Each car's speed increments in buckets at or after the view's cut-off."""
    t = speed_increments.c
    query = select(t.vin, func.sum(t.distance_km), func.sum(t.fuel_used_l)).group_by(t.vin)
    if view.speed_from is not None:
        query = query.where(t.bucket_start >= view.speed_from)
    if vins is not None:
        query = query.where(t.vin.in_(vins))
    return {vin: Totals(d or 0.0, f or 0.0) for vin, d, f in conn.execute(query)}


def merged_vehicles(
    conn: Connection,
    *,
    view: View,
    vins: Collection[str] | None = None,
    vehicle_class: str | None = None,
) -> list[VehicleTotals]:
    """Every known car (or those of ``vins``/``vehicle_class``) with merged totals."""
    batch = batch_rows(conn, view=view, vins=vins, vehicle_class=vehicle_class)
    halves = batch_totals(conn, view=view, vins=vins)
    speed = speed_sums(conn, view=view, vins=vins)
    s = speed_vehicle_state.c
    seen_q = select(s.vin, s.event_time)
    if vins is not None:
        seen_q = seen_q.where(s.vin.in_(vins))
    seen: dict[str, datetime] = {r.vin: r.event_time for r in conn.execute(seen_q)}
    known = (
        set(batch)
        if vehicle_class is not None
        else set(batch) | set(halves) | set(speed) | set(seen)
    )
    out = []
    for vin in known:
        row = batch.get(vin)
        totals = halves.get(vin)
        if totals is None and row is not None:
            # A version written without merge totals (before they existed, or rows made
            # by hand): its efficiency figures, the nearest the store has.
            totals = Totals(row.distance_km, row.fuel_used_l)
        out.append(
            VehicleTotals(
                vin=vin,
                vehicle_class=row.vehicle_class if row is not None else None,
                merged=merge(totals, speed.get(vin)),
                refuelled_l=row.refuelled_l if row is not None else None,
                refuels=row.refuels if row is not None else None,
                last_seen=seen.get(vin) or (row.last_event if row is not None else None),
                batch_l_per_100km=row.l_per_100km if row is not None else None,
            )
        )
    return out


def sort_vehicles(vehicles: list[VehicleTotals], *, sort: VehicleSort) -> list[VehicleTotals]:
    if sort is VehicleSort.VIN:
        return sorted(vehicles, key=lambda v: v.vin)
    if sort is VehicleSort.DISTANCE:
        return sorted(vehicles, key=lambda v: (-v.merged.totals.distance_km, v.vin))
    inf = float("inf")
    return sorted(
        vehicles,
        key=lambda v: (v.merged.l_per_100km is None, v.merged.l_per_100km or inf, v.vin),
    )


def list_vehicles(
    conn: Connection,
    *,
    view: View,
    vehicle_class: str | None,
    sort: VehicleSort,
    limit: int,
    offset: int,
) -> tuple[int, list[VehicleTotals]]:
    """One page of cars, sorted, and how many there are in all."""
    vehicles = sort_vehicles(
        merged_vehicles(conn, view=view, vehicle_class=vehicle_class), sort=sort
    )
    return len(vehicles), vehicles[offset : offset + limit]


def vehicle_state(conn: Connection, *, vin: str) -> dict[str, Any] | None:
    """The speed layer's newest reading of the car, without bookkeeping columns."""
    row = conn.execute(select(speed_vehicle_state).where(speed_vehicle_state.c.vin == vin)).first()
    if row is None:
        return None
    state = dict(row._mapping)
    for bookkeeping in ("vin", "seq", "partition", "missing_seqs"):
        state.pop(bookkeeping)
    return state


# --- one car, one statement ---------------------------------------------------------------
# `GET /vehicles/{vin}` reads what `merged_vehicles` and `vehicle_state` read for one car, in
# one statement: a one-row table holding the VIN, outer-joined to the batch row, the batch
# merge totals, the car's speed-layer sum (from the view's cut-off) and its newest state.
# Built once at import with bound parameters, so a request neither builds nor compiles SQL.

_STATE_COLUMNS = tuple(
    c for c in speed_vehicle_state.c if c.name not in ("vin", "seq", "partition", "missing_seqs")
)


def _one_car_statement(*, cutoff: bool) -> Select[Any]:
    car = select(cast(bindparam("vin", type_=String(17)), String(17)).label("vin")).subquery("car")
    e, t, s, i = vehicle_efficiency.c, vehicle_totals.c, speed_vehicle_state.c, speed_increments.c
    sums = select(
        i.vin, func.sum(i.distance_km).label("distance_km"), func.sum(i.fuel_used_l).label("fuel")
    ).where(i.vin == bindparam("vin", type_=String(17)))
    if cutoff:
        sums = sums.where(i.bucket_start >= bindparam("speed_from"))
    speed = sums.group_by(i.vin).subquery("speed")
    version = bindparam("version", type_=vehicle_efficiency.c.version.type)
    joined = (
        car.outerjoin(vehicle_efficiency, (e.vin == car.c.vin) & (e.version == version))
        .outerjoin(vehicle_totals, (t.vin == car.c.vin) & (t.version == version))
        .outerjoin(speed, speed.c.vin == car.c.vin)
        .outerjoin(speed_vehicle_state, s.vin == car.c.vin)
    )
    return select(
        e.vin.label("batch_vin"),
        e.vehicle_class,
        e.distance_km.label("batch_distance_km"),
        e.fuel_used_l.label("batch_fuel_used_l"),
        e.refuelled_l,
        e.refuels,
        e.l_per_100km.label("batch_l_per_100km"),
        e.last_event,
        t.vin.label("totals_vin"),
        t.distance_km.label("totals_distance_km"),
        t.fuel_used_l.label("totals_fuel_used_l"),
        speed.c.vin.label("speed_vin"),
        speed.c.distance_km.label("speed_distance_km"),
        speed.c.fuel.label("speed_fuel_used_l"),
        s.vin.label("state_vin"),
        *(c.label(f"state_{c.name}") for c in _STATE_COLUMNS),
    ).select_from(joined)


_ONE_CAR = {cutoff: _one_car_statement(cutoff=cutoff) for cutoff in (False, True)}


def one_vehicle(
    conn: Connection, *, view: View, vin: str
) -> tuple[VehicleTotals | None, dict[str, Any] | None]:
    """``merged_vehicles(vins=[vin])`` and ``vehicle_state(vin)`` in one statement: the car's
    merged totals (None if no layer knows it) and its newest state (None before any reading)."""
    params: dict[str, Any] = {"vin": vin, "version": view.version}
    if view.speed_from is not None:
        params["speed_from"] = view.speed_from
    row = conn.execute(_ONE_CAR[view.speed_from is not None], params).one()
    state = (
        {c.name: row._mapping[f"state_{c.name}"] for c in _STATE_COLUMNS}
        if row.state_vin is not None
        else None
    )
    has_batch = row.batch_vin is not None
    if not (
        has_batch or row.totals_vin is not None or row.speed_vin is not None or state is not None
    ):
        return None, None
    if row.totals_vin is not None:
        totals: Totals | None = Totals(row.totals_distance_km, row.totals_fuel_used_l)
    elif has_batch:  # a version written without merge totals, as in `merged_vehicles`
        totals = Totals(row.batch_distance_km, row.batch_fuel_used_l)
    else:
        totals = None
    speed = (
        Totals(row.speed_distance_km or 0.0, row.speed_fuel_used_l or 0.0)
        if row.speed_vin is not None
        else None
    )
    seen = state["event_time"] if state is not None else None
    car = VehicleTotals(
        vin=vin,
        vehicle_class=row.vehicle_class if has_batch else None,
        merged=merge(totals, speed),
        refuelled_l=row.refuelled_l if has_batch else None,
        refuels=row.refuels if has_batch else None,
        last_seen=seen or (row.last_event if has_batch else None),
        batch_l_per_100km=row.batch_l_per_100km if has_batch else None,
    )
    return car, state
