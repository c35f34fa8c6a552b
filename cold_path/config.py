"""Settings of the cold path (env prefix ``COLD_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

import fsspec  # type: ignore[import-untyped]
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.config import PlatformSettings, speed_bucket_field
from fleet.topics import TELEMETRY


class ColdPathSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COLD_", env_file=".env", extra="ignore")

    master_dir: Path | None = None
    """The master dataset as a local directory; ``DATA_DIR/master`` when neither is set."""
    master_url: str | None = None
    """The master dataset as an fsspec URL: ``file:///srv/master``, ``s3://bucket/master``
    (needs s3fs), ``memory://name`` (one process only: tests)."""
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
    watermark_align_s: int = speed_bucket_field("watermark_align_s")
    """The speed layer's bucket size (``FLEET_SPEED_BUCKET_S``, shared by every layer): the
    watermark falls on a bucket boundary so serving can add whole buckets after it."""
    smoothing_readings: int = Field(default=5, ge=1)
    """Fuel-level readings averaged at each end of a refuel-free stretch (sensor noise)."""

    @field_validator("master_url")
    @classmethod
    def _known_filesystem(cls, url: str | None) -> str | None:
        if url is None:
            return None
        protocol, _ = fsspec.core.split_protocol(url)
        if protocol is not None and protocol not in fsspec.available_protocols():
            raise ValueError(
                f"{url!r}: fsspec knows no filesystem {protocol!r} "
                "(a local path, file://, s3://, gs://, memory:// ...)"
            )
        return url

    @model_validator(mode="after")
    def _one_location(self) -> Self:
        if self.master_dir is not None and self.master_url is not None:
            raise ValueError(
                "COLD_MASTER_DIR and COLD_MASTER_URL both name the master dataset: unset one"
            )
        return self

    def master(self) -> str:
        """The master dataset's location as ``cold_path.dataset.Master.at`` takes it."""
        if self.master_url is not None:
            return self.master_url
        return str(self.master_dir or PlatformSettings().data_dir / "master")
