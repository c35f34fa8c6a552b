"""Settings of the ingest gateway and the MQTT bridge (env prefix ``INGEST_``), read here only."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.config import PlatformSettings
from fleet.telemetry import MAX_RECORD_BYTES
from fleet.topics import DEAD_LETTER, TELEMETRY


class IngestSettings(BaseSettings):
    """Where the gateway listens, how much it accepts, and where the bridge finds Mosquitto."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=1, le=65535)
    telemetry_topic: str = TELEMETRY
    dead_letter_topic: str = DEAD_LETTER

    # A batch of 500 full events is about 600 KiB; one request body stays well
    # under Kafka's default 1 MiB message limit, so a refused body can be
    # dead-lettered whole (truncated to one record's size, see deadletter.py).
    max_batch_records: int = Field(default=500, ge=1, le=10_000)
    max_body_bytes: int = Field(default=1024 * 1024, ge=MAX_RECORD_BYTES)
    producer_queue_max: int = Field(default=100_000, ge=1)
    """Records waiting for Kafka; a request that would overflow it gets 503."""
    delivery_timeout_ms: int = Field(default=60_000, ge=1_000)
    """Kafka gives up on a record after this long, so every request gets an answer."""
    retry_after_s: int = Field(default=1, ge=1)

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int | None = None
    """Mosquitto's port; unset means the one ``python -m infra mqtt up`` recorded (1883)."""
    mqtt_client_id: str = "fleet-ingest-bridge"
    """Fixed, so Mosquitto keeps the bridge's session (and its queued messages) across restarts."""
    mqtt_username: str = "ingest-bridge"
    mqtt_password: SecretStr | None = None
    """Unset means the bridge password that ``infra mqtt up`` wrote under DATA_DIR/mqtt/."""
    mqtt_max_inflight: int = Field(default=1_000, ge=1, le=65_535)
    bridge_metrics_port: int = Field(default=8002, ge=0, le=65535)
    """Where the bridge serves /metrics on 127.0.0.1; 0 turns it off."""

    @property
    def data_dir(self) -> Path:
        return PlatformSettings().data_dir

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "ingest" / "credentials.sqlite3"
