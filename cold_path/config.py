"""Settings of the cold path (env prefix ``COLD_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.config import PlatformSettings
from fleet.topics import TELEMETRY


class ColdPathSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COLD_", env_file=".env", extra="ignore")

    master_dir: Path | None = None
    """The master dataset; ``DATA_DIR/master`` when unset."""
    topic: str = TELEMETRY
    group_id: str = "cold-path"
    instance_id: str | None = None
    """Static group membership: a restarted archiver with the same id takes its
    partitions back at once instead of waiting out the dead member's session."""
    roll_max_records: int = Field(default=100_000, ge=1)
    roll_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    roll_max_age_s: float = Field(default=30.0, gt=0)
    """A partition's records are on disk at most this long after the first arrived."""

    spark_master: str = "local[*]"
    """``local[*]`` on this machine, ``spark://host:7077`` for a standalone cluster."""
    spark_shuffle_partitions: int = Field(default=8, ge=1)
    spark_driver_memory: str = "1g"
    spark_executor_memory: str = "1g"
    """Per executor on a cluster; a worker offering less than this runs none."""
    watermark_lag_s: float = Field(default=60.0, ge=0)
    """How far behind the newest archived event the batch declares itself complete:
    room for records still in flight between the cars, Kafka and the archiver."""
    watermark_align_s: int = Field(default=60, ge=1)
    """The speed layer's bucket size (``HOT_SPEED_BUCKET_S``): the watermark falls on a
    bucket boundary so serving can add whole buckets after it."""
    smoothing_readings: int = Field(default=5, ge=1)
    """Fuel-level readings averaged at each end of a refuel-free stretch (sensor noise)."""

    def master(self) -> Path:
        return self.master_dir or PlatformSettings().data_dir / "master"
