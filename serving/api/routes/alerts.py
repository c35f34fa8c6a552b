"""``GET /alerts``: the cars needing attention, most severe first."""

from __future__ import annotations

from enum import StrEnum

from fastapi import APIRouter, Response
from pydantic import TypeAdapter
from sqlalchemy import Connection

from fleet.alerts import AlertKind, Severity
from serving.api.deps import STORE_DOWN, Limit, Offset, StoreDep
from serving.cache import cached
from serving.config import DEFAULT_PAGE_SIZE
from serving.models import AlertPage, served
from serving.queries.alerts import list_alerts

router = APIRouter(prefix="/alerts", tags=["alerts"], responses=STORE_DOWN)

# The encoder FastAPI itself uses for a `response_model` (pydantic's core, straight to JSON
# bytes, by alias): a cached page is byte for byte the answer the route gave uncached.
_PAGE_JSON = TypeAdapter(AlertPage)


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
) -> Response:
    """Alerts (speed layer), most severe first, then the most recently opened."""

    def page(conn: Connection) -> bytes:
        view = store.view(conn)
        total, rows = list_alerts(
            conn,
            status=str(status) if status else None,
            kind=kind,
            severity=severity,
            limit=limit,
            offset=offset,
        )
        # One validation of the whole page (pydantic's core walks the rows), not one per alert.
        body = AlertPage.model_validate({
            "served": served(view, ["speed"]), "total": total, "limit": limit,
            "offset": offset, "items": rows,
        })  # fmt: skip
        return _PAGE_JSON.dump_json(body, by_alias=True)

    # Everything the answer depends on besides the database (docs/serving.md, "Caching").
    key = ("alerts", store.bucket_s, status, kind, severity, limit, offset)
    body = await store.run(lambda conn: cached(conn, key, lambda: page(conn)))
    return Response(content=body, media_type="application/json")
