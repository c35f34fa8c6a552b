"""Response models: what the API promises, apart from the store's tables."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from fleet.alerts import AlertKind, Severity
from serving.queries.vehicles import VehicleTotals
from serving.queries.view import View

Layer = Literal["batch", "speed"]


class Problem(BaseModel):
    """The body of a 404 or 503: what went wrong, in one sentence a person can act on."""

    detail: str


class Served(BaseModel):
    """Which layers answered and where the batch view hands over to the speed layer."""

    layers: list[Layer] = Field(description="layers whose data is in the answer")
    watermark: datetime | None = Field(
        description="the batch view holds every event before this event time"
    )
    speed_from: datetime | None = Field(
        description="speed-layer buckets starting at or after this are added (null: all)"
    )
    aligned: bool = Field(
        description="false when the watermark falls inside a speed bucket: that bucket's "
        "readings after the watermark are not counted until the next batch run"
    )
    batch_version: int | None


def served(view: View, layers: Iterable[str]) -> Served:
    found = set(layers)
    return Served(
        layers=[layer for layer in ("batch", "speed") if layer in found],
        watermark=view.watermark,
        speed_from=view.speed_from,
        aligned=view.aligned,
        batch_version=view.version,
    )


class VehicleSummary(BaseModel):
    vin: str
    vehicle_class: str | None
    distance_km: float
    fuel_used_l: float
    l_per_100km: float | None = Field(description="null under 1 km, where it would be noise")
    layers: list[Layer]
    last_seen: datetime | None

    @classmethod
    def of(cls, v: VehicleTotals) -> VehicleSummary:
        return cls(
            vin=v.vin,
            vehicle_class=v.vehicle_class,
            distance_km=v.merged.totals.distance_km,
            fuel_used_l=v.merged.totals.fuel_used_l,
            l_per_100km=v.merged.l_per_100km,
            layers=list(v.merged.layers),
            last_seen=v.last_seen,
        )


class Page(BaseModel):
    served: Served
    total: int
    limit: int
    offset: int


class VehiclePage(Page):
    items: list[VehicleSummary]


class VehicleState(BaseModel):
    event_time: datetime
    latitude: float | None
    longitude: float | None
    heading: float | None
    speed_kmh: float | None
    acceleration_mps2: float | None
    fuel_level_percent: float | None
    fuel_litres: float | None
    range_m: float | None
    odometer_km: float | None
    coolant_temp_c: float | None
    trip_id: str | None
    segment_id: str | None
    origin: str | None
    destination: str | None
    updated_at: datetime


class Alert(BaseModel):
    alert_id: str
    vin: str
    kind: AlertKind
    severity: Severity
    status: Literal["open", "resolved"]
    opened_at: datetime
    evidence_time: datetime
    detected_at: datetime
    resolved_at: datetime | None
    detail: dict[str, Any]


class AlertPage(Page):
    items: list[Alert]


class VehicleDetail(VehicleSummary):
    served: Served
    refuelled_l: float | None = Field(description="batch layer only")
    refuels: int | None = Field(description="batch layer only")
    state: VehicleState | None = Field(description="the newest reading (speed layer)")
    open_alerts: list[Alert]


class RankedVehicle(VehicleSummary):
    rank: int


class ClassEfficiency(BaseModel):
    vehicle_class: str | None
    vehicles: int
    distance_km: float
    fuel_used_l: float
    l_per_100km: float | None


class Leaderboard(BaseModel):
    served: Served
    vehicles: list[RankedVehicle]
    classes: list[ClassEfficiency]


class RouteRanking(BaseModel):
    origin: str
    destination: str
    route: str
    trips: int
    mean_duration_s: float
    mean_fuel_l: float
    mean_distance_km: float
    rank_fuel: int
    rank_time: int
    recommended: bool


class Recommendations(BaseModel):
    served: Served
    items: list[RouteRanking]


class BatchStatus(BaseModel):
    version: int | None
    watermark: datetime | None
    watermark_age_s: float | None
    error: str | None = Field(default=None, description="why the store could not say (503 text)")


class ClusterStatus(BaseModel):
    reachable: bool
    error: str | None = None
    next_step: str | None = None
    bootstrap_servers: str | None = None
    brokers: list[dict[str, Any]] = []
    brokers_up: list[int] = []
    brokers_down: list[int] = []
    topics: list[dict[str, Any]] = []
    consumer_groups: list[dict[str, Any]] = []
    lag: dict[str, int | None] = Field(
        default={}, description="total lag of the platform's consumer groups (null: unknown)"
    )
    batch: BatchStatus


class Report(BaseModel):
    name: str
    created_at: datetime
    files: list[str]


class Reports(BaseModel):
    latest: str | None
    reports: list[Report]
