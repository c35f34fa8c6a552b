"""The hot path's settings (env prefix ``HOT_``), read here only.

Every threshold is in the units of the contract (SI/VSS) and seconds of event
time; docs/hot_path.md gives the reasoning behind each default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.config import PlatformSettings, speed_bucket_field
from fleet.metrics import (
    BATTERY_LOW_V,
    COOLANT_HOT_C,
    FUEL_LOW_PERCENT,
    HARSH_ACCEL_MPS2,
    HARSH_BRAKE_MPS2,
    OIL_LOW_KPA_PER_1000_RPM,
    OIL_LOW_MIN_KPA,
)
from fleet.topics import ALERTS, DEAD_LETTER, TELEMETRY


class RuleSettings(BaseSettings):
    """Detection thresholds and how long a condition must hold before it counts."""

    model_config = SettingsConfigDict(env_prefix="HOT_", env_file=".env", extra="ignore")

    # engine_overheat: coolant above the limit for a while, not one reading.
    coolant_limit_c: float = COOLANT_HOT_C
    coolant_critical_c: float = 120.0
    coolant_sustain_s: float = Field(default=30.0, ge=0)
    # oil_pressure_low: the pump must deliver a floor at idle and more with engine speed.
    oil_min_kpa: float = OIL_LOW_MIN_KPA
    oil_kpa_per_1000rpm: float = OIL_LOW_KPA_PER_1000_RPM
    oil_min_rpm: float = 400.0
    oil_sustain_s: float = Field(default=10.0, ge=0)
    # tyre_pressure_low: loss against the tyre's own ratio to the other three.
    tyre_loss_kpa: float = 20.0
    tyre_critical_loss_kpa: float = 60.0
    tyre_min_kpa: float = 140.0
    tyre_baseline_tau_s: float = Field(default=7200.0, gt=0)
    tyre_sustain_s: float = Field(default=30.0, ge=0)
    # fuel_low: the dashboard warning level, or the trip computer's range.
    fuel_low_percent: float = FUEL_LOW_PERCENT
    fuel_low_range_m: float = 50_000.0
    fuel_critical_range_m: float = 15_000.0
    fuel_clear_margin_percent: float = 2.0
    fuel_sustain_s: float = Field(default=30.0, ge=0)
    # battery_low: resting voltage of a 12 V lead-acid battery, after the surface charge fades.
    battery_rest_min_v: float = BATTERY_LOW_V
    battery_critical_v: float = 11.5
    battery_settle_s: float = Field(default=30.0, ge=0)
    battery_charging_min_v: float = 13.2
    battery_sustain_s: float = Field(default=60.0, ge=0)
    # dtc_active: a code confirmed over a few seconds; misfire codes are critical.
    dtc_confirm_s: float = Field(default=5.0, ge=0)
    dtc_critical_prefixes: tuple[str, ...] = ("P030",)
    # harsh_driving: repeated manoeuvres far beyond the car's own habit (hot_path.rules_harsh).
    harsh_min_mps2: float = Field(default=0.5, gt=0)
    harsh_accel_factor: float = Field(default=1.8, gt=1)
    harsh_brake_factor: float = Field(default=2.5, gt=1)
    harsh_absolute_accel_mps2: float = Field(default=HARSH_ACCEL_MPS2 + 0.5, gt=0)
    harsh_absolute_brake_mps2: float = Field(default=HARSH_BRAKE_MPS2 + 1.5, gt=0)
    harsh_brake_floor_mps2: float = Field(default=3.9, ge=0)
    harsh_warmup_readings: int = Field(default=10, ge=1)
    harsh_ref_quantile: float = Field(default=0.5, gt=0, lt=1)
    harsh_ref_step: float = Field(default=0.02, gt=0, lt=1)
    harsh_window_s: float = Field(default=600.0, gt=0)
    harsh_open_count: float = Field(default=3.0, gt=0)
    harsh_clear_level: float = Field(default=0.5, gt=0)
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
    producer_linger_s: float = Field(default=0.01, ge=0, le=1)
    session_timeout_s: float = Field(default=60.0, ge=6, le=300)
    """How long the group waits for a silent worker before its partitions move."""
    web_enabled: bool = True
    """Faust's web server: the worker's page and, with ``HOT_FAUST_MONITOR``, its /stats."""
    faust_monitor: bool = False
    """Faust's own Monitor sensor (the web server's /stats), fed on every record.

    Off: `hot_path.app.StreamClock` keeps only what Faust's slow-stream check
    reads; the Prometheus metrics (``HOT_METRICS_PORT``) are the worker's
    numbers, and the Monitor's four calls a record (clock readings, counters)
    took 2.3 us of the worker's 90-120 (docs/hot_path.md, "Eighth round")."""
    inline_delivery: bool = True
    """Hand each record to the agent in Faust's fetch loop itself, skipping the four tasks
    Faust makes a record, unless the hand-over has to wait (`hot_path.delivery`;
    docs/hot_path.md, "Ninth round"). False: Faust's own delivery."""
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, ge=1, le=65535)
    log_level: Literal["crit", "error", "warn", "info", "debug"] = "info"
    loop: Literal["aio", "uvloop"] = "uvloop"
    """Event loop: uvloop gives the worker 1.1-1.25 times asyncio's rate (docs/hot_path.md)."""
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=8003, ge=0, le=65535)
    """Prometheus exposition port; 0 turns it off."""
    max_poll_records: int = Field(default=200, ge=1, le=100_000)
    """Records Faust's consumer hands on per fetch call; docs/hot_path.md, "Latency under load"."""
    fetch_max_wait_ms: int = Field(default=100, ge=1, le=10_000)
    """How long the broker may hold a fetch of the worker's consumer for records to come.

    Faust fixes aiokafka's at 1,500 ms; docs/hot_path.md, "Where the paced latency went"."""
    batch_records: int = Field(default=256, ge=1, le=10_000)
    """The agent runs the rules over up to this many records at a time."""
    batch_wait_s: float = Field(default=0.05, gt=0, le=5)
    """...or over what arrived within this long (the most a quiet stream waits)."""
    gc_threshold: int = Field(default=10_000, ge=700, le=1_000_000)
    """Allocations between the youngest generation's garbage collections (Python's: 700).

    For the worker and its view writer, which also freeze what they hold at
    start-up (`hot_path.runtime.tune_gc`; docs/hot_path.md, "Fifth round", item 2)."""
    stall_check_every_s: float = Field(default=10.0, gt=0, le=600)
    """How often the worker looks for a commit waiting on records nobody holds."""
    state_flush_every_s: float = Field(default=5.0, gt=0, le=60)
    """How often car state is written behind to the changelog (and records acked).

    Each flush writes one changelog record per car that reported since the last:
    at one reading a second per car, a 1 s period costs a changelog record per
    record. A rebalance or a shutdown flushes at once (docs/hot_path.md).
    """
    state_flush_records: int = Field(default=20_000, ge=1)
    """Flush at once when this many records wait for their acknowledgement."""
    speed_enabled: bool = True
    """The worker starts a speed-view writer process (the serving store, ``DATABASE_URL``)."""
    speed_group: str | None = None
    """The writers' consumer group; ``<app id>-views`` unless given."""
    speed_bucket_s: int = speed_bucket_field("speed_bucket_s")  # FLEET_SPEED_BUCKET_S, shared
    speed_flush_every_s: float = Field(default=0.5, gt=0)
    """How often the writer writes its pending rows (the views' delay behind Kafka)."""
    speed_nice: int = Field(default=19, ge=0, le=19)
    """How much lower the worker's writer runs than the worker (``nice``; 0: the same).

    19, the lowest: at 10 the two writers of two workers still took 0.2 of the
    two cores the workers needed (docs/hot_path.md, "Fifth round")."""
    speed_sched_idle: bool = True
    """The worker's writer runs under Linux's ``SCHED_IDLE`` policy as well.

    It then runs only on CPU no other task wants, and gives a core back the
    moment the worker wakes on it: at nice 19 alone two writers took 0.15-0.20
    of the two cores the workers waited for (docs/hot_path.md, "Sixth round").
    On a machine kept busy by other work the views fall behind: set it false
    there, and raise the writer's share with a lower ``HOT_SPEED_NICE``."""
    speed_read_batch: int = Field(default=2000, ge=1)
    """Records the writer takes from its consumer at a time."""
    speed_fetch_wait_ms: int = Field(default=200, ge=0, le=5000)
    """How long the broker may hold the writer's fetch to fill it (few big fetches, not many)."""
    speed_expire_margin_s: float = Field(default=3600.0, ge=0)
    """Buckets this long before the batch watermark are kept, then deleted."""
    speed_expire_every_s: float = Field(default=60.0, gt=0)

    def views_group(self) -> str:
        return self.speed_group or f"{self.app_id}-views"

    def state_dir(self) -> Path:
        base = self.data_dir or PlatformSettings().data_dir / "hot_path"
        return base / self.app_id
