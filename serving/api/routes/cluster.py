"""``GET /cluster``: brokers, topics, ISR, consumer lag and the batch watermark's age."""

from __future__ import annotations

from datetime import UTC, datetime

from anyio import to_thread
from fastapi import APIRouter, HTTPException

from serving.api.deps import KafkaDep, SettingsDep, StoreDep
from serving.cluster import cluster_status
from serving.models import ClusterStatus
from serving.queries.view import View

router = APIRouter(prefix="/cluster", tags=["cluster"])
NO_BATCH = View(None, None, None, True)


@router.get("", response_model=ClusterStatus)
async def cluster(store: StoreDep, kafka: KafkaDep, settings: SettingsDep) -> ClusterStatus:
    """Kafka as ``python -m infra kafka status`` sees it; ``reachable: false`` when it is down.

    The health page must answer when the store does not: then ``batch`` is empty and
    ``batch.error`` says why.
    """
    store_error = None
    try:
        view = await store.run(store.view)
    except HTTPException as exc:
        if exc.status_code != 503:
            raise
        view, store_error = NO_BATCH, str(exc.detail)
    # Kafka's admin client blocks: in a worker thread, outside the store's bound.
    status = await to_thread.run_sync(
        lambda: cluster_status(
            kafka=kafka, view=view, now=datetime.now(UTC), timeout=settings.cluster_timeout_s
        )
    )
    status["batch"]["error"] = store_error
    return ClusterStatus(**status)
