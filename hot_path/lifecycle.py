"""The alert lifecycle: at most one open alert per (car, kind), resolved after a clear spell.

`step` is pure: it takes the open alert (or None), the rule's finding on the
newest reading and that reading's event time, and returns the next open alert
and the event to publish, if any. Severity only rises while an alert is open;
the resolved event carries the highest severity the alert reached.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from fleet.alerts import AlertKind, Severity
from hot_path.events import AlertEvent, AlertStatus, alert_id, from_epoch
from hot_path.rules import Finding


@dataclass(frozen=True, slots=True)
class OpenAlert:
    alert_id: str
    opened_t: float
    severity: Severity
    clear_since: float | None = None


def step(
    current: OpenAlert | None,
    finding: Finding | None,
    *,
    vin: str,
    kind: AlertKind,
    t: float,
    now: datetime,
    resolve_after_s: float,
) -> tuple[OpenAlert | None, AlertEvent | None]:
    """Advance one (car, kind) by one finding made at event time ``t``."""
    if finding is None:
        return current, None
    if finding.active:
        if current is None:
            opened = OpenAlert(alert_id(vin, kind, t), t, finding.severity)
            return opened, _event(opened, AlertStatus.OPENED, vin, kind, t, now, finding)
        severity = max(current.severity, finding.severity, key=lambda s: s.rank)
        if severity is current.severity and current.clear_since is None:
            return current, None
        return replace(current, severity=severity, clear_since=None), None
    if current is None:
        return None, None
    clear_since = t if current.clear_since is None else current.clear_since
    if t - clear_since >= resolve_after_s:
        return None, _event(current, AlertStatus.RESOLVED, vin, kind, t, now, finding)
    if clear_since == current.clear_since:
        return current, None
    return replace(current, clear_since=clear_since), None


def _event(
    alert: OpenAlert,
    status: AlertStatus,
    vin: str,
    kind: AlertKind,
    t: float,
    now: datetime,
    finding: Finding,
) -> AlertEvent:
    return AlertEvent(
        alert_id=alert.alert_id,
        vin=vin,
        kind=kind,
        status=status,
        severity=alert.severity,
        opened_at=from_epoch(alert.opened_t),
        evidence_time=from_epoch(t),
        detected_at=now,
        detail=dict(finding.detail),
    )
