"""``GET /cluster``: brokers, topics, ISR, consumer lag and the batch watermark's age."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from serving.api.deps import KafkaDep, SettingsDep, ViewDep
from serving.cluster import cluster_status
from serving.models import ClusterStatus

router = APIRouter(prefix="/cluster", tags=["cluster"])


@router.get("", response_model=ClusterStatus)
def cluster(view: ViewDep, kafka: KafkaDep, settings: SettingsDep) -> ClusterStatus:
    """Kafka as ``python -m infra kafka status`` sees it; ``reachable: false`` when it is down."""
    status = cluster_status(
        kafka=kafka, view=view, now=datetime.now(UTC), timeout=settings.cluster_timeout_s
    )
    return ClusterStatus(**status)
