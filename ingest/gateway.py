"""The HTTP gateway's app: the ingest route, health, readiness and metrics.

See `ingest.routes` for what ``POST /v1/telemetry`` answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from confluent_kafka import KafkaException
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from fleet.config import KafkaSettings
from ingest import routes
from ingest.config import IngestSettings
from ingest.credentials import CredentialStore
from ingest.deps import Gateway, GatewayDep
from ingest.metrics import IngestMetrics
from ingest.producer import KafkaSink

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", tags=["health"])
async def readyz(gateway: GatewayDep) -> JSONResponse:
    """Readiness: Kafka answers and both topics exist."""
    wanted = {gateway.settings.telemetry_topic, gateway.settings.dead_letter_topic}
    try:
        topics = await asyncio.to_thread(gateway.sink.topics, 5.0)
    except KafkaException as exc:
        return JSONResponse({"status": "unavailable", "problem": str(exc)}, status_code=503)
    missing = sorted(wanted - topics)
    if missing:
        return JSONResponse({"status": "unavailable", "missing_topics": missing}, 503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", include_in_schema=False)
async def metrics(gateway: GatewayDep) -> Response:
    return Response(gateway.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def create_app(
    settings: IngestSettings | None = None, kafka: KafkaSettings | None = None
) -> FastAPI:
    """The gateway app; Kafka producer and credential store live as long as it does."""
    settings = settings or IngestSettings()
    kafka = kafka or KafkaSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        conf = kafka.producer_config(**{"delivery.timeout.ms": settings.delivery_timeout_ms})
        sink = KafkaSink(conf, queue_max=settings.producer_queue_max)
        store = CredentialStore(settings.credentials_file)
        app.state.gateway = Gateway(settings, store, sink, IngestMetrics())
        log.info("gateway producing to %s (dead letters: %s)", settings.telemetry_topic,
                 settings.dead_letter_topic)  # fmt: skip
        try:
            yield
        finally:
            await asyncio.to_thread(sink.close, 30.0)

    app = FastAPI(
        title="fleet ingest gateway",
        version="1",
        description=routes.__doc__,
        lifespan=lifespan,
    )
    app.include_router(routes.router)
    app.include_router(router)
    return app
