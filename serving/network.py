"""``GET /network``: the road map the dashboard draws, zones and route polylines in lat/lon.

The map is the simulator's fixed network (`simulator.network`), the one the
cars drive and the segment ids name; route ids (``origin:destination:kind``)
are the ``route`` values of ``GET /routes/recommendations``. Serving reads it
from there because no shared home exists yet (docs/serving.md, "Dashboard").
"""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, Field

from simulator.network import (
    CENTRE_LAT,
    CENTRE_LON,
    KM_PER_DEG_LAT,
    KM_PER_DEG_LON,
    ZONE_NAMES,
    ZONES,
    Network,
)

Point = tuple[float, float]


class Zone(BaseModel):
    name: str
    latitude: float
    longitude: float


class Road(BaseModel):
    route_id: str = Field(description="origin:destination:kind, as routes name it")
    origin: str
    destination: str
    kind: str = Field(description="direct, ring or motorway")
    length_km: float
    points: list[Point] = Field(description="[latitude, longitude] corners along the route")


class RoadNetwork(BaseModel):
    centre: Point
    zones: list[Zone]
    routes: list[Road]


def _latlon(x_km: float, y_km: float) -> Point:
    return (
        round(CENTRE_LAT + y_km / KM_PER_DEG_LAT, 6),
        round(CENTRE_LON + x_km / KM_PER_DEG_LON, 6),
    )


def _corners(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Drop the points that lie on a straight line between their neighbours."""
    kept = points[:1]
    for here, after in zip(points[1:-1], points[2:], strict=True):
        before = kept[-1]
        cross = (here[0] - before[0]) * (after[1] - here[1]) - (here[1] - before[1]) * (
            after[0] - here[0]
        )
        if abs(cross) > 1e-9:
            kept.append(here)
    return kept + points[-1:]


@cache
def road_network() -> RoadNetwork:
    """Built once per process: the network is fixed."""
    net = Network()
    routes = []
    for r in net.routes:
        segs = range(r.first_segment, r.first_segment + r.segments)
        xy = [(float(net.seg_x[i]), float(net.seg_y[i])) for i in segs]
        last = r.first_segment + r.segments - 1
        xy.append(
            (float(net.seg_x[last] + net.seg_dx[last]), float(net.seg_y[last] + net.seg_dy[last]))
        )
        routes.append(
            Road(
                route_id=r.route_id,
                origin=ZONE_NAMES[r.origin],
                destination=ZONE_NAMES[r.destination],
                kind=r.kind,
                length_km=round(r.length_km, 2),
                points=[_latlon(x, y) for x, y in _corners(xy)],
            )
        )
    zones = [Zone(name=n, latitude=_latlon(*ZONES[n])[0], longitude=_latlon(*ZONES[n])[1])
             for n in ZONE_NAMES]  # fmt: skip
    return RoadNetwork(centre=(CENTRE_LAT, CENTRE_LON), zones=zones, routes=routes)
