"""Settings of ``make demo`` (env prefix ``DEMO_``), read here only.

The defaults are sized for a two-core laptop: 50 cars reporting every 5
simulated seconds at 10x speed are 100 records/s, which the hot-path worker
keeps up with while a Spark batch runs beside it, and most faults show within
a minute of wall time. docs/demo.md explains each knob and why not faster.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.config import PlatformSettings


class DemoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", env_file=".env", extra="ignore")

    seconds: float | None = Field(default=None, gt=0)
    """``DEMO_SECONDS``: run this long once everything is up, then check and stop."""
    cars: int = Field(default=50, ge=1, le=5000)
    hz: float = Field(default=0.2, gt=0, le=10)
    """Records per car per simulated second."""
    speedup: float = Field(default=10.0, gt=0, le=600)
    """Simulated seconds per wall second. Faster makes the hot path's silence rule
    misfire: a partition that falls a few wall seconds behind the others looks, in
    event time, like cars that stopped reporting (docs/demo.md)."""
    fault_rate: float = Field(default=0.5, ge=0, le=100)
    """Faults per car per simulated hour (the simulator's default is 0.05)."""
    seed: int | None = Field(default=None, ge=0)
    """Fix the fleet (same VINs, same faults); a new fleet every run when unset."""
    sim_hours: float = Field(default=7 * 24, gt=0, le=366 * 24)
    """Simulated time the simulator runs for if nobody stops it."""
    batch_every_s: float = Field(default=60.0, ge=0)
    """Pause between the end of one batch run (and its report) and the next."""
    batch_timeout_s: float = Field(default=900.0, gt=0)
    ready_timeout_s: float = Field(default=180.0, gt=0)
    """How long each component may take to become ready."""
    check_wait_s: float = Field(default=300.0, ge=0)
    """With ``DEMO_SECONDS``: how long the check waits for a first batch still running."""
    stop_grace_s: float = Field(default=20.0, gt=0)
    """SIGTERM (SIGINT for the simulator) first; SIGKILL after this many seconds."""
    log_dir: Path | None = None
    """``DATA_DIR/demo/logs`` when unset."""
    keep_reports: int = Field(default=3, ge=1)
    """Reports the demo wrote that it keeps under ``DATA_DIR/reports`` (the newest)."""

    def logs(self) -> Path:
        return self.log_dir or PlatformSettings().data_dir / "demo" / "logs"

    def truth(self) -> Path:
        return PlatformSettings().data_dir / "demo" / "truth"
