"""What the live feed polls: alerts that may have changed, car states written lately.

Neither speed table has a change counter, so each poll reads a bounded
superset of what can have changed and `serving.live` keeps what is new:

- alerts: every open one, every one detected lately (an alert can open and
  resolve between two polls) and the ones the caller saw open last time (to
  learn that they resolved);
- car states: rows whose ``updated_at`` (the writer's clock at its flush) is
  at or after a cut-off the caller sets a little before the newest it saw,
  because two workers' flushes can commit in another order than their clocks.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select

from fleet.store import speed_alerts, speed_vehicle_state
from serving.queries.view import View, current_view

STATE_COLUMNS = (
    "vin", "event_time", "latitude", "longitude", "heading", "speed_kmh",
    "fuel_level_percent", "coolant_temp_c", "origin", "destination", "updated_at",
)  # fmt: skip
"""What the dashboard draws of a car; the rest is one ``GET /vehicles/{vin}`` away."""

# SQLite limits bound parameters per statement; look up long id lists in slices.
_IN_CHUNK = 500


def _alert(row: Any) -> dict[str, Any]:
    item = dict(row._mapping)
    item["detail"] = json.loads(item["detail"]) if item["detail"] else {}
    return item


def changed_alerts(
    conn: Connection, *, detected_since: datetime | None, watched: Collection[str]
) -> list[dict[str, Any]]:
    """Open alerts, alerts detected at or after ``detected_since``, and those of ``watched``."""
    a = speed_alerts.c
    recent = [a.status == "open"]
    if detected_since is not None:
        recent.append(a.detected_at >= detected_since)
    rows = {r.alert_id: _alert(r) for r in conn.execute(select(speed_alerts).where(or_(*recent)))}
    missing = [alert_id for alert_id in watched if alert_id not in rows]
    for i in range(0, len(missing), _IN_CHUNK):
        chunk = missing[i : i + _IN_CHUNK]
        for r in conn.execute(select(speed_alerts).where(a.alert_id.in_(chunk))):
            rows[r.alert_id] = _alert(r)
    return list(rows.values())


def newest_detection(conn: Connection) -> datetime | None:
    """When the newest alert was detected: where a first poll starts its re-read window."""
    newest: datetime | None = conn.execute(select(func.max(speed_alerts.c.detected_at))).scalar()
    return newest


def changed_states(conn: Connection, *, updated_since: datetime | None) -> list[dict[str, Any]]:
    """Car states written at or after ``updated_since`` (every car when None)."""
    s = speed_vehicle_state.c
    query = select(*(s[name] for name in STATE_COLUMNS))
    if updated_since is not None:
        query = query.where(s.updated_at >= updated_since)
    return [dict(r._mapping) for r in conn.execute(query)]


def batch_view(conn: Connection, *, bucket_s: int) -> View:
    """The published batch version, so the page can refresh batch-backed panels when it moves."""
    return current_view(conn, bucket_s=bucket_s)
