"""``GET /alerts``: the cars needing attention, most severe first."""

from __future__ import annotations

from enum import StrEnum

from fastapi import APIRouter

from fleet.alerts import AlertKind, Severity
from serving.api.deps import STORE_DOWN, ConnDep, Limit, Offset, ViewDep
from serving.config import DEFAULT_PAGE_SIZE
from serving.models import Alert, AlertPage, served
from serving.queries.alerts import list_alerts

router = APIRouter(prefix="/alerts", tags=["alerts"], responses=STORE_DOWN)


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
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
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
