"""Settings of the local infrastructure (env prefix ``INFRA_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.config import REPO_ROOT

PACKAGE_DIR = Path(__file__).resolve().parent


class InfraSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INFRA_", env_file=".env", extra="ignore")

    java_home: Path | None = None
    """Where Java 17+ lives; ``JAVA_HOME`` and then ``PATH`` are tried otherwise."""
    java_home_env: Path | None = Field(default=None, validation_alias="JAVA_HOME")
    kafka_libs_dir: Path = REPO_ROOT / ".cache" / "kafka" / "libs"
    kafka_heap: str = "512m"
    port_base: int = Field(default=9092, ge=1024, le=65000)
    """Broker ``i`` listens on ``port_base + i``, its controller on ``port_base + 100 + i``."""
    start_timeout_s: float = 120.0
    stop_timeout_s: float = 30.0
    maven: str = "mvn"
    maven_timeout_s: float = 900.0
