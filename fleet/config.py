"""Settings shared by every stage, read from the environment (and ``.env``) here only."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.cluster_state import ClusterRecord, state_file

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


SPEED_BUCKET_ENV = "FLEET_SPEED_BUCKET_S"
DEFAULT_SPEED_BUCKET_S = 60


def speed_bucket_field(name: str) -> Any:
    """The one event-time bucket size, as a field of any component's settings class.

    The hot path sums speed increments per bucket, the batch floors its
    watermark to a bucket boundary and serving adds whole buckets from the
    watermark on: the three must agree, so all three read the one environment
    variable `SPEED_BUCKET_ENV` (``FLEET_SPEED_BUCKET_S``, 60 s by default)
    and no per-component name. ``name`` is the field's own name, so tests can
    still pass it as a keyword.
    """
    return Field(
        default=DEFAULT_SPEED_BUCKET_S,
        ge=1,
        le=3600,
        validation_alias=AliasChoices(SPEED_BUCKET_ENV, name),
        description="width of the speed layer's event-time buckets, seconds",
    )


class PlatformSettings(BaseSettings):
    """Where runtime state lives: Kafka nodes' logs, the master dataset, the serving store;
    and the speed-bucket size every layer shares (``FLEET_SPEED_BUCKET_S``)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    data_dir: Path = Field(default=REPO_ROOT / "data", validation_alias="DATA_DIR")
    speed_bucket_s: int = speed_bucket_field("speed_bucket_s")


class KafkaSettings(BaseSettings):
    """How every client in the platform connects to Kafka (env prefix ``KAFKA_``).

    With no ``KAFKA_BOOTSTRAP_SERVERS``, clients use the cluster that
    ``python -m infra kafka up`` recorded under the data directory, and
    ``127.0.0.1:9092`` when there is no such record.
    """

    model_config = SettingsConfigDict(env_prefix="KAFKA_", env_file=".env", extra="ignore")

    bootstrap_servers: str | None = None
    client_id: str = "fleet"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # Small linger and lz4 batches: telemetry records are ~1 KiB of repetitive
    # JSON and compress about 4:1; 10 ms adds no latency a dashboard can see.
    linger_ms: int = 10
    compression_type: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    request_timeout_ms: int = 30_000

    def bootstrap(self, data_dir: Path | None = None) -> str:
        if self.bootstrap_servers:
            return self.bootstrap_servers
        record = ClusterRecord.read(state_file(data_dir or PlatformSettings().data_dir))
        return record.bootstrap_servers if record else DEFAULT_BOOTSTRAP

    def common_config(self) -> dict[str, Any]:
        """Settings every librdkafka client gets: the connection and the identity."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap(),
            "client.id": self.client_id,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            conf["sasl.username"] = self.sasl_username
        if self.sasl_password:
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        return conf

    def producer_config(self, **overrides: Any) -> dict[str, Any]:
        """The producer every stage uses.

        ``acks=all`` with idempotence: an acknowledged record is on every
        in-sync replica and a retry never writes it twice. ``murmur2_random``
        hashes keys as the Java client and aiokafka do, so a VIN lands on the
        same partition whichever client produced it.
        """
        return {
            **self.common_config(),
            "acks": "all",
            "enable.idempotence": True,
            "partitioner": "murmur2_random",
            "linger.ms": self.linger_ms,
            "compression.type": self.compression_type,
            "request.timeout.ms": self.request_timeout_ms,
            **overrides,
        }

    def consumer_config(self, group_id: str, **overrides: Any) -> dict[str, Any]:
        """A consumer that stores offsets only when the caller says the work is done."""
        return {
            **self.common_config(),
            "group.id": group_id,
            "enable.auto.commit": True,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            **overrides,
        }

    def admin_config(self, **overrides: Any) -> dict[str, Any]:
        return {**self.common_config(), **overrides}


class TopicSettings(BaseSettings):
    """Partition counts and retention of the platform's topics (env prefix ``TOPIC_``).

    Twelve telemetry partitions let up to twelve hot-path workers share the
    fleet; retention is explicit so no topic depends on a broker default.
    """

    model_config = SettingsConfigDict(env_prefix="TOPIC_", env_file=".env", extra="ignore")

    telemetry_partitions: int = Field(default=12, ge=1, le=1000)
    telemetry_retention_hours: int = Field(default=7 * 24, ge=1)
    alerts_retention_hours: int = Field(default=30 * 24, ge=1)
    dead_letter_partitions: int = Field(default=3, ge=1, le=1000)
    dead_letter_retention_hours: int = Field(default=14 * 24, ge=1)
