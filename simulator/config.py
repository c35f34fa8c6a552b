"""The simulator's settings (env prefix ``SIM_``); command-line flags override them."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.topics import TELEMETRY
from simulator.faults import DEFAULT_RATE

# Where a seeded run's clock starts unless told otherwise: a fixed Monday 05:00
# UTC, so that the same seed gives the same bytes on any day and a two-hour run
# catches the morning rush.
SEEDED_START = datetime(2026, 1, 5, 5, 0, tzinfo=UTC)


class SimSettings(BaseSettings):
    """What to simulate and where to send it."""

    model_config = SettingsConfigDict(env_prefix="SIM_", env_file=".env", extra="ignore")

    cars: int = Field(default=100, ge=1, le=1_000_000)
    hz: float = Field(default=1.0, gt=0, le=100, description="records per car per simulated s")
    speedup: float = Field(default=1.0, gt=0, description="simulated seconds per wall second")
    duration: float = Field(default=3600.0, gt=0, le=366 * 86_400, description="simulated s")
    seed: int | None = Field(default=None, ge=0, lt=2**63)
    start: AwareDatetime | None = None
    truth_out: Path | None = None
    fault_rate: float = Field(default=DEFAULT_RATE, ge=0, le=100)
    topic: str = Field(default=TELEMETRY, min_length=1, max_length=249)
    output: Path | None = Field(default=None, description="write records here instead of Kafka")
    to: Literal["kafka", "http", "mqtt"] = "kafka"
    """Straight to Kafka, or as low-powered cars would: through the ingest gateway."""
    gateway_url: str = "http://127.0.0.1:8001"
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    late_rate: float = Field(default=0.0, ge=0, le=1)
    duplicate_rate: float = Field(default=0.0, ge=0, le=1)
    reorder_rate: float = Field(default=0.0, ge=0, le=1)
    malformed_rate: float = Field(default=0.0, ge=0, le=1)
    progress: bool = True
    flush_timeout: float = Field(default=60.0, gt=0)
    connect_timeout: float = Field(default=10.0, gt=0)

    @field_validator("speedup")
    @classmethod
    def _finite_or_max(cls, value: float) -> float:
        if math.isnan(value):
            raise ValueError("must be a number or 'max'")
        return value

    def start_time(self) -> datetime:
        """The simulated clock's origin: ``start``, the seeded default, or now."""
        if self.start is not None:
            return self.start.astimezone(UTC)
        if self.seed is not None:
            return SEEDED_START
        return datetime.now(UTC).replace(microsecond=0)
