"""Alerts from the speed layer, most severe first."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, case, func, select

from fleet.alerts import AlertKind, Severity
from fleet.store import speed_alerts

_SEVERITY_RANK = case({str(s): s.rank for s in Severity}, value=speed_alerts.c.severity, else_=-1)


def list_alerts(
    conn: Connection,
    *,
    status: str | None = None,
    kind: AlertKind | None = None,
    severity: Severity | None = None,
    vin: str | None = None,
    limit: int,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """A page of alerts (most severe, then most recently opened, first) and the total."""
    a = speed_alerts.c
    conditions = []
    if status is not None:
        conditions.append(a.status == status)
    if kind is not None:
        conditions.append(a.kind == str(kind))
    if severity is not None:
        conditions.append(a.severity == str(severity))
    if vin is not None:
        conditions.append(a.vin == vin)
    total = conn.execute(select(func.count()).select_from(speed_alerts).where(*conditions))
    query = (
        select(speed_alerts)
        .where(*conditions)
        .order_by(_SEVERITY_RANK.desc(), a.opened_at.desc(), a.alert_id)
        .limit(limit)
        .offset(offset)
    )
    rows = []
    for row in conn.execute(query):
        item = dict(row._mapping)
        item["detail"] = json.loads(item["detail"]) if item["detail"] else {}
        rows.append(item)
    return int(total.scalar_one()), rows
