"""Settings of the serving layer (env prefix ``SERVING_``), read here only."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.config import PlatformSettings, speed_bucket_field

MAX_PAGE_SIZE = 500
"""The largest page any list endpoint serves; asking for more is a 422."""
DEFAULT_PAGE_SIZE = 50


class ServingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SERVING_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "info"
    speed_bucket_s: int = speed_bucket_field("speed_bucket_s")
    """Width of the speed layer's event-time buckets: ``FLEET_SPEED_BUCKET_S``, the one
    setting the hot path and the batch's watermark read too."""
    reports_dir: Path | None = None
    """Where ``python -m cold_path report`` writes; ``DATA_DIR/reports`` when unset."""
    store_concurrency: int | None = Field(default=None, ge=1, le=1000)
    """Requests reading the store at once (the rest wait their turn in the event loop);
    default 2 on SQLite, the connection pool's size on a server database, never more than
    the pool (docs/serving.md, "Concurrency")."""
    cluster_timeout_s: float = Field(default=3.0, gt=0, le=30)
    """How long ``GET /cluster`` waits for Kafka before reporting it unreachable."""

    def reports(self) -> Path:
        return self.reports_dir or PlatformSettings().data_dir / "reports"
