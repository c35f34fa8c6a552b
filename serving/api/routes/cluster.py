"""``GET /cluster``: brokers, topics, ISR, consumer lag and the batch watermark's age."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from serving.api.deps import EngineDep, KafkaDep, SettingsDep, is_store_down, store_unavailable
from serving.cluster import cluster_status
from serving.models import ClusterStatus
from serving.queries.view import View, current_view

router = APIRouter(prefix="/cluster", tags=["cluster"])
NO_BATCH = View(None, None, None, True)


@router.get("", response_model=ClusterStatus)
def cluster(engine: EngineDep, kafka: KafkaDep, settings: SettingsDep) -> ClusterStatus:
    """Kafka as ``python -m infra kafka status`` sees it; ``reachable: false`` when it is down.

    The health page must answer when the store does not: then ``batch`` is empty and
    ``batch.error`` says why.
    """
    store_error = None
    try:
        with engine.connect() as conn:
            view = current_view(conn, bucket_s=settings.speed_bucket_s)
    except Exception as exc:
        if not is_store_down(exc):
            raise
        view, store_error = NO_BATCH, str(store_unavailable(exc, engine).detail)
    status = cluster_status(
        kafka=kafka, view=view, now=datetime.now(UTC), timeout=settings.cluster_timeout_s
    )
    status["batch"]["error"] = store_error
    return ClusterStatus(**status)
