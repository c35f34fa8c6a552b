"""The road network: named zones, and several distinct routes between every pair.

Zones sit on a plane around a fictional city centre; positions are kilometres
east/north of it and become latitude/longitude through a local flat-earth
projection (good to metres over a 30 km city). Every origin-destination pair
gets three routes that trade length against speed and stops:

- ``direct``: the shortest line through town, 50 km/h, traffic lights often;
- ``ring``: a wider arc on 70 km/h arterial roads, fewer lights;
- ``motorway``: the longest way round, mostly at 120 km/h, no lights.

The network is fixed (not random), so route names mean the same in every run.
All segments of all routes live in flat numpy arrays so the physics can look
them up for the whole fleet at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CENTRE_LAT, CENTRE_LON = 48.137, 11.575
KM_PER_DEG_LAT = 111.32
KM_PER_DEG_LON = KM_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT))

ZONES: dict[str, tuple[float, float]] = {
    "depot": (-6.0, -2.0),
    "downtown": (0.0, 0.0),
    "airport": (16.0, 11.0),
    "suburbs_north": (2.0, 10.0),
    "suburbs_south": (-2.0, -9.0),
    "industrial": (9.0, -5.0),
    "harbour": (-10.0, 4.0),
}
ZONE_NAMES = tuple(ZONES)


@dataclass(frozen=True)
class RouteKind:
    name: str
    stretch: float  # route length over the straight-line distance
    limit_kmh: float
    segment_km: float
    stop_probability: float  # chance that a segment ends at a red light
    congestion: float  # how much rush hour slows it (0 none, 1 standstill)


ROUTE_KINDS = (
    RouteKind("direct", 1.15, 50.0, 0.6, 0.45, 0.55),
    RouteKind("ring", 1.35, 70.0, 1.0, 0.20, 0.45),
    RouteKind("motorway", 1.60, 120.0, 2.0, 0.0, 0.35),
)
ACCESS_LIMIT = 50.0  # motorway routes begin and end on town streets


@dataclass(frozen=True)
class Route:
    route_id: str
    origin: int
    destination: int
    kind: str
    first_segment: int
    segments: int
    length_km: float
    free_flow_s: float


class Network:
    """Zones, routes and the flat segment tables the physics reads."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.by_pair: dict[tuple[int, int], list[int]] = {}
        cols: dict[str, list[float]] = {k: [] for k in ("len", "lim", "stop", "cong", "x", "y")}
        cols.update(dx=[], dy=[])
        names: list[str] = []
        nxt: list[int] = []
        for o, origin in enumerate(ZONE_NAMES):
            for d, destination in enumerate(ZONE_NAMES):
                if o == d:
                    continue
                for kind in ROUTE_KINDS:
                    first = len(names)
                    pieces = _pieces(ZONES[origin], ZONES[destination], kind)
                    route_id = f"{origin}:{destination}:{kind.name}"
                    for i, (x, y, dx, dy, limit, stops) in enumerate(pieces):
                        length = math.hypot(dx, dy) * 1000.0
                        for key, value in (("len", length), ("lim", limit / 3.6), ("x", x),
                                           ("y", y), ("dx", dx), ("dy", dy), ("stop", stops),
                                           ("cong", kind.congestion)):  # fmt: skip
                            cols[key].append(value)
                        names.append(f"{route_id}:{i:02d}")
                        nxt.append(len(names) if i < len(pieces) - 1 else -1)
                    seg_len = np.array(cols["len"][first:])
                    seg_lim = np.array(cols["lim"][first:])
                    self.by_pair.setdefault((o, d), []).append(len(self.routes))
                    self.routes.append(Route(
                        route_id, o, d, kind.name, first, len(pieces),
                        float(seg_len.sum() / 1000.0), float((seg_len / seg_lim).sum()),
                    ))  # fmt: skip
        self.seg_len = np.array(cols["len"])
        self.seg_limit = np.array(cols["lim"])  # m/s
        self.seg_stop = np.array(cols["stop"])
        self.seg_congestion = np.array(cols["cong"])
        self.seg_x, self.seg_y = np.array(cols["x"]), np.array(cols["y"])  # km, segment start
        self.seg_dx, self.seg_dy = np.array(cols["dx"]), np.array(cols["dy"])
        self.seg_next = np.array(nxt, dtype=np.int64)
        self.seg_heading = np.degrees(np.arctan2(self.seg_dx, self.seg_dy)) % 360.0
        self.seg_names = np.array(names, dtype=object)
        self.route_first = np.array([r.first_segment for r in self.routes], dtype=np.int64)

    def position(self, seg: np.ndarray, metres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latitude and longitude of each car ``metres`` along its segment ``seg``."""
        frac = np.clip(metres / self.seg_len[seg], 0.0, 1.0)
        x = self.seg_x[seg] + frac * self.seg_dx[seg]
        y = self.seg_y[seg] + frac * self.seg_dy[seg]
        return CENTRE_LAT + y / KM_PER_DEG_LAT, CENTRE_LON + x / KM_PER_DEG_LON


def _pieces(
    a: tuple[float, float], b: tuple[float, float], kind: RouteKind
) -> list[tuple[float, float, float, float, float, float]]:
    """(x, y, dx, dy, limit, stop probability) of each segment from ``a`` to ``b``.

    The route bends at a point off the straight line, placed so the two legs
    add up to ``stretch`` times the distance; bends go alternately left and right
    by kind so the three routes do not overlap.
    """
    (ax, ay), (bx, by) = a, b
    dist = math.hypot(bx - ax, by - ay)
    height = dist / 2.0 * math.sqrt(kind.stretch**2 - 1.0)
    side = 1.0 if kind.name != "ring" else -1.0
    mx, my = (
        (ax + bx) / 2 - side * (by - ay) / dist * height,
        (ay + by) / 2 + side * (bx - ax) / dist * height,
    )
    out = []
    for (sx, sy), (ex, ey) in (((ax, ay), (mx, my)), ((mx, my), (bx, by))):
        leg = math.hypot(ex - sx, ey - sy)
        n = max(1, round(leg / kind.segment_km))
        for i in range(n):
            x0, y0 = sx + (ex - sx) * i / n, sy + (ey - sy) * i / n
            out.append(
                [x0, y0, (ex - sx) / n, (ey - sy) / n, kind.limit_kmh, kind.stop_probability]
            )
    if kind.name == "motorway":
        # First and last piece are town streets with a light at the slip road.
        for piece in (out[0], out[-1]):
            piece[4], piece[5] = ACCESS_LIMIT, 0.5
    return [(p[0], p[1], p[2], p[3], p[4], p[5]) for p in out]


def rush_hour(hour_of_day: float) -> float:
    """Congestion level 0..1: peaks at 08:00 and 17:30, quiet at night."""
    morning = math.exp(-(((hour_of_day - 8.0) / 1.2) ** 2))
    evening = math.exp(-(((hour_of_day - 17.5) / 1.5) ** 2))
    return min(1.0, morning + evening)
