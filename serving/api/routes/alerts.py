"""``GET /alerts``: the cars needing attention, most severe first."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query

from fleet.alerts import AlertKind, Severity
from serving.api.deps import ConnDep, ViewDep
from serving.config import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from serving.models import Alert, AlertPage, served
from serving.queries.alerts import list_alerts

router = APIRouter(prefix="/alerts", tags=["alerts"])


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@router.get("", response_model=AlertPage)
def alerts(
    conn: ConnDep,
    view: ViewDep,
    status: AlertStatus | None = None,
    kind: AlertKind | None = None,
    severity: Severity | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AlertPage:
    """Alerts (speed layer), most severe first, then the most recently opened."""
    total, rows = list_alerts(
        conn,
        status=str(status) if status else None,
        kind=kind,
        severity=severity,
        limit=limit,
        offset=offset,
    )
    return AlertPage(
        served=served(view, ["speed"]),
        total=total,
        limit=limit,
        offset=offset,
        items=[Alert(**r) for r in rows],
    )
