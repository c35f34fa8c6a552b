"""``GET /alerts``: the cars needing attention, most severe first."""

from __future__ import annotations

from enum import StrEnum

from fastapi import APIRouter
from sqlalchemy import Connection

from fleet.alerts import AlertKind, Severity
from serving.api.deps import STORE_DOWN, Limit, Offset, StoreDep
from serving.config import DEFAULT_PAGE_SIZE
from serving.models import AlertPage, served
from serving.queries.alerts import list_alerts
from serving.queries.view import View

router = APIRouter(prefix="/alerts", tags=["alerts"], responses=STORE_DOWN)


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@router.get("", response_model=AlertPage)
async def alerts(
    store: StoreDep,
    status: AlertStatus | None = None,
    kind: AlertKind | None = None,
    severity: Severity | None = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    offset: Offset = 0,
) -> AlertPage:
    """Alerts (speed layer), most severe first, then the most recently opened."""

    def read(conn: Connection, view: View) -> AlertPage:
        total, rows = list_alerts(
            conn,
            status=str(status) if status else None,
            kind=kind,
            severity=severity,
            limit=limit,
            offset=offset,
        )
        # One validation of the whole page (pydantic's core walks the rows), not one per alert.
        return AlertPage.model_validate({
            "served": served(view, ["speed"]), "total": total, "limit": limit,
            "offset": offset, "items": rows,
        })  # fmt: skip

    return await store.read(read)
