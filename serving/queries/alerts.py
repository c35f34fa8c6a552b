"""Alerts from the speed layer, most severe first."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Connection, case, func, select

from fleet.alerts import AlertKind, Severity
from fleet.store import bytewise, speed_alerts

log = logging.getLogger(__name__)
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
    query = (
        select(speed_alerts)
        .where(*conditions)
        .order_by(_SEVERITY_RANK.desc(), a.opened_at.desc(), bytewise(a.alert_id, conn.dialect))
        .limit(limit)
        .offset(offset)
    )
    rows = []
    for row in conn.execute(query):
        item = dict(row._mapping)
        item["detail"] = _detail(item["alert_id"], item["detail"])
        rows.append(item)
    if (rows and len(rows) < limit) or (not rows and offset == 0):
        # A short page is the last one: it tells the total without counting (a car's
        # open alerts for `GET /vehicles/{vin}`, one query per request fewer).
        return offset + len(rows), rows
    total = conn.execute(select(func.count()).select_from(speed_alerts).where(*conditions))
    return int(total.scalar_one()), rows


def _detail(alert_id: str, text: str | None) -> dict[str, Any]:
    """The alert's JSON detail; a row that is not a JSON object is kept as text, not a 500."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    log.warning("alert %s: detail is not a JSON object, served as text: %.200s", alert_id, text)
    return {"raw": text}
