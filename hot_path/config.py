"""The hot path's settings (env prefix ``HOT_``), read here only.

Every threshold is in the units of the contract (SI/VSS) and seconds of event
time; docs/hot_path.md gives the reasoning behind each default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.config import PlatformSettings
from fleet.topics import ALERTS, DEAD_LETTER, TELEMETRY


class RuleSettings(BaseSettings):
    """Detection thresholds and how long a condition must hold before it counts."""

    model_config = SettingsConfigDict(env_prefix="HOT_", env_file=".env", extra="ignore")

    # engine_overheat: coolant above the limit for a while, not one reading.
    coolant_limit_c: float = 110.0
    coolant_critical_c: float = 120.0
    coolant_sustain_s: float = Field(default=30.0, ge=0)
    # oil_pressure_low: the pump must deliver a floor at idle and more with engine speed.
    oil_min_kpa: float = 80.0
    oil_kpa_per_1000rpm: float = 70.0
    oil_min_rpm: float = 400.0
    oil_sustain_s: float = Field(default=10.0, ge=0)
    # tyre_pressure_low: loss against the tyre's own ratio to the other three.
    tyre_loss_kpa: float = 20.0
    tyre_critical_loss_kpa: float = 60.0
    tyre_min_kpa: float = 140.0
    tyre_baseline_tau_s: float = Field(default=7200.0, gt=0)
    tyre_sustain_s: float = Field(default=30.0, ge=0)
    # fuel_low: the dashboard warning level, or the trip computer's range.
    fuel_low_percent: float = 10.0
    fuel_low_range_m: float = 50_000.0
    fuel_critical_range_m: float = 15_000.0
    fuel_clear_margin_percent: float = 2.0
    fuel_sustain_s: float = Field(default=30.0, ge=0)
    # battery_low: resting voltage of a 12 V lead-acid battery, after the surface charge fades.
    battery_rest_min_v: float = 12.2
    battery_critical_v: float = 11.5
    battery_settle_s: float = Field(default=30.0, ge=0)
    battery_charging_min_v: float = 13.2
    battery_sustain_s: float = Field(default=60.0, ge=0)
    # dtc_active: a code confirmed over a few seconds; misfire codes are critical.
    dtc_confirm_s: float = Field(default=5.0, ge=0)
    dtc_critical_prefixes: tuple[str, ...] = ("P030",)
    # harsh_driving: episodes per distance, against an absolute floor and the car's own norm.
    harsh_accel_mps2: float = 2.5
    harsh_brake_mps2: float = 3.5
    harsh_window_km: float = Field(default=5.0, gt=0)
    harsh_min_episodes: float = 3.0
    harsh_baseline_km: float = Field(default=100.0, gt=0)
    harsh_baseline_factor: float = 2.5
    harsh_prior_per_100km: float = 10.0
    harsh_prior_km: float = 20.0
    # vehicle_silent: judged on event time against the fleet watermark.
    silent_gap_s: float = Field(default=90.0, gt=0)
    watermark_lateness_s: float = Field(default=30.0, ge=0)
    silence_check_every_s: float = Field(default=10.0, gt=0)
    # Lifecycle: an alert resolves once its condition stayed clear this long.
    resolve_after_s: float = Field(default=60.0, ge=0)


class HotPathSettings(BaseSettings):
    """How the worker runs: identity, topics, state store, web server."""

    model_config = SettingsConfigDict(env_prefix="HOT_", env_file=".env", extra="ignore")

    app_id: str = Field(default="hot-path", min_length=1)
    telemetry_topic: str = TELEMETRY
    alerts_topic: str = ALERTS
    dead_letter_topic: str = DEAD_LETTER
    store: str = Field(default="rocksdb://", pattern=r"^(rocksdb|memory)://")
    data_dir: Path | None = None
    """Table state; ``DATA_DIR/hot_path/<app id>`` unless given."""
    replication_factor: int | None = Field(default=None, ge=1, le=3)
    """Override for the topics the worker creates; otherwise asked of the cluster."""
    web_enabled: bool = True
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, ge=1, le=65535)
    log_level: Literal["crit", "error", "warn", "info", "debug"] = "info"

    def state_dir(self) -> Path:
        base = self.data_dir or PlatformSettings().data_dir / "hot_path"
        return base / self.app_id
