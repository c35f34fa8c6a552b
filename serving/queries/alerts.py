"""Alerts from the speed layer, most severe first."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Connection, Integer, Select, bindparam, case, func, select
from sqlalchemy.engine import Dialect

from fleet.alerts import AlertKind, Severity
from fleet.store import SEVERITY_RANK, bytewise, speed_alerts

log = logging.getLogger(__name__)
# The same ranks with bound parameters: an expression the index on `SEVERITY_RANK` does not
# match, for one car's alerts, so SQLite reads them by the VIN index and sorts those few
# instead of walking every open alert in the index's order to find the car's.
_SEVERITY_RANK_BOUND = case(
    {str(s): s.rank for s in Severity}, value=speed_alerts.c.severity, else_=-1
)


# A page's statements per filter combination and dialect, built once with bound parameters:
# a request neither builds nor compiles SQL.
_Filters = tuple[bool, bool, bool, bool]
_STATEMENTS: dict[tuple[str, _Filters], tuple[Select[Any], Select[Any]]] = {}
_FILTERED = ("status", "kind", "severity", "vin")


def _statements(dialect: Dialect, filters: _Filters) -> tuple[Select[Any], Select[Any]]:
    key = (dialect.name, filters)
    built = _STATEMENTS.get(key)
    if built is None:
        a = speed_alerts.c
        conditions = [
            a[name] == bindparam(name) for name, on in zip(_FILTERED, filters, strict=True) if on
        ]
        rank = _SEVERITY_RANK_BOUND if filters[_FILTERED.index("vin")] else SEVERITY_RANK
        page = (
            select(speed_alerts)
            .where(*conditions)
            .order_by(rank.desc(), a.opened_at.desc(), bytewise(a.alert_id, dialect))
            .limit(bindparam("limit", type_=Integer))
            .offset(bindparam("offset", type_=Integer))
        )
        count = select(func.count()).select_from(speed_alerts).where(*conditions)
        built = _STATEMENTS[key] = (page, count)
    return built


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
    values = (status, kind, severity, vin)
    page, count = _statements(conn.dialect, (
        status is not None, kind is not None, severity is not None, vin is not None,
    ))  # fmt: skip
    params: dict[str, Any] = {
        name: str(value) for name, value in zip(_FILTERED, values, strict=True) if value is not None
    }
    result = conn.execute(page, {**params, "limit": limit, "offset": offset})
    keys = tuple(result.keys())  # zip, not `row._mapping`: a third of the page's cost
    rows = [dict(zip(keys, row, strict=True)) for row in result.all()]  # one fetchall
    for item in rows:
        item["detail"] = _detail(item["alert_id"], item["detail"])
    if (rows and len(rows) < limit) or (not rows and offset == 0):
        # A short page is the last one: it tells the total without counting (a car's
        # open alerts for `GET /vehicles/{vin}`, one query per request fewer).
        return offset + len(rows), rows
    total = conn.execute(count, params)
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
