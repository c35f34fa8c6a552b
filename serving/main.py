"""Builds the serving API: `create_app` wires settings, the store and the routers."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from fleet import store
from fleet.config import KafkaSettings
from serving.api.deps import Store
from serving.api.routes import alerts, cluster, dashboard, fleet, health, live, reports, vehicles
from serving.config import ServingSettings
from serving.metrics import instrument

DESCRIPTION = """Fleet telemetry served from both Lambda layers.

Figures are the batch view (every event before its watermark) plus the speed
layer's increments after it; each answer's `served` says which layers served
it and the watermark used.
"""


def create_app(
    settings: ServingSettings | None = None,
    *,
    engine: Engine | None = None,
    kafka: KafkaSettings | None = None,
) -> FastAPI:
    """The API over ``engine`` (default: the store ``DATABASE_URL`` names)."""
    api = FastAPI(title="Fleet telemetry API", version="0.1.0", description=DESCRIPTION)
    api.state.settings = settings or ServingSettings()
    api.state.engine = engine or store.connect()
    api.state.store = Store(
        api.state.engine,
        bucket_s=api.state.settings.speed_bucket_s,
        concurrency=api.state.settings.store_concurrency,
    )
    api.state.kafka = kafka or KafkaSettings()
    instrument(api)
    for router in (
        health.router,
        vehicles.router,
        alerts.router,
        fleet.router,
        fleet.routes_router,
        cluster.router,
        reports.router,
        live.router,
        dashboard.router,
    ):
        api.include_router(router)
    dashboard.mount_static(api)
    return api
