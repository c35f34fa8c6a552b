"""``GET /cluster``: Kafka as ``python -m infra kafka status`` sees it, plus the batch age."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from confluent_kafka import KafkaException

from fleet.cluster_state import ClusterRecord, state_file
from fleet.config import KafkaSettings, PlatformSettings
from fleet.errors import ConfigError
from infra.errors import InfraError
from infra.status import collect
from serving.queries.view import View

log = logging.getLogger(__name__)
GROUPS = ("hot-path", "cold-path")


def _record() -> ClusterRecord | None:
    try:
        return ClusterRecord.read(state_file(PlatformSettings().data_dir))
    except ConfigError as exc:
        log.warning("ignoring the cluster record: %s", exc)
        return None


def batch_status(view: View, *, now: datetime) -> dict[str, Any]:
    age = (now - view.watermark).total_seconds() if view.watermark is not None else None
    return {"version": view.version, "watermark": view.watermark, "watermark_age_s": age}


def cluster_status(
    *, kafka: KafkaSettings, view: View, now: datetime, timeout: float
) -> dict[str, Any]:
    """The cluster's state, or ``reachable: false`` with the reason: never an exception."""
    batch = batch_status(view, now=now)
    try:
        status = collect(kafka, _record(), timeout=timeout)
    except InfraError as exc:
        return {"reachable": False, "error": exc.cause, "next_step": exc.next_step, "batch": batch}
    except (KafkaException, ConfigError) as exc:
        return {"reachable": False, "error": str(exc), "batch": batch}
    groups = {g["group"]: g for g in status["consumer_groups"]}
    lag = {name: groups[name]["total_lag"] if name in groups else None for name in GROUPS}
    return {"reachable": True, **status, "lag": lag, "batch": batch}
