"""The alert event on ``fleet.alerts``: one alert opened or resolved, keyed by VIN.

An alert is identified by ``alert_id`` = ``VIN:kind:<event time of the opening
evidence in ms>``, which is derived from the data only, so a worker that
replays records after a restart republishes the same id and consumers can
drop the copy. ``evidence_time`` is the event time of the reading (or, for
``vehicle_silent``, the watermark) that decided the transition;
``detected_at`` is the wall-clock time at which the hot path decided it.

This model belongs next to the telemetry contract in `fleet/` (serving and the
scorer read it); it lives here until it moves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from fleet.alerts import AlertKind, Severity
from fleet.vin import VIN_PATTERN


class AlertStatus(StrEnum):
    OPENED = "opened"
    RESOLVED = "resolved"


class AlertEvent(BaseModel):
    """One lifecycle transition of one alert."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    schema_version: Literal[1] = 1
    alert_id: str = Field(min_length=1, max_length=128)
    vin: str = Field(pattern=VIN_PATTERN)
    kind: AlertKind
    status: AlertStatus
    severity: Severity
    opened_at: AwareDatetime
    """Event time of the evidence that opened the alert."""
    evidence_time: AwareDatetime
    detected_at: AwareDatetime
    source: Literal["hot-path"] = "hot-path"
    detail: dict[str, float | str] = Field(default_factory=dict)

    @field_validator("opened_at", "evidence_time", "detected_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @property
    def key(self) -> bytes:
        return self.vin.encode("ascii")


def encode_alert(alert: AlertEvent) -> bytes:
    return alert.model_dump_json().encode()


def decode_alert(raw: bytes | str) -> AlertEvent:
    return AlertEvent.model_validate_json(raw)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def alert_id(vin: str, kind: AlertKind, opened_t: float) -> str:
    return f"{vin}:{kind}:{round(opened_t * 1000)}"
