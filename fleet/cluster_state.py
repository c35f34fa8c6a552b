"""The record of the local Kafka cluster that ``python -m infra kafka up`` started.

infra writes it; every Kafka client reads it to find the cluster with no flags.
It lives at ``DATA_DIR/kafka/cluster.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fleet.errors import ConfigError


@dataclass(frozen=True)
class NodeRecord:
    """One combined broker+controller process."""

    node_id: int
    pid: int
    port: int
    controller_port: int
    log_dir: str
    log_file: str
    started_at: float
    """The process's start time (seconds since the epoch), to tell it from a reused pid."""


@dataclass(frozen=True)
class ClusterRecord:
    cluster_id: str
    kafka_version: str
    bootstrap_servers: str
    replication_factor: int
    min_insync_replicas: int
    nodes: list[NodeRecord] = field(default_factory=list)

    @property
    def brokers(self) -> int:
        return len(self.bootstrap_servers.split(","))

    @property
    def port_base(self) -> int:
        return int(self.bootstrap_servers.split(",")[0].rsplit(":", 1)[1])

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> ClusterRecord | None:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{path} is not JSON ({exc}); delete it if no Kafka of ours runs"
            ) from None
        try:
            nodes = [NodeRecord(**n) for n in raw.pop("nodes", [])]
            return cls(nodes=nodes, **raw)
        except (TypeError, AttributeError) as exc:
            raise ConfigError(
                f"{path} is not a cluster record ({exc}); if no Kafka of ours runs, "
                "delete it or run `python -m infra kafka down --wipe`"
            ) from None


def state_file(data_dir: Path) -> Path:
    return data_dir / "kafka" / "cluster.json"
