"""A throw-away one-broker Kafka cluster for benchmarks, on free ports, never the dev cluster's."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic

from infra import cluster
from infra.ports import free_port_base


@contextmanager
def scratch_broker(*, provision: bool = False) -> Iterator[str]:
    """Bootstrap servers of a fresh broker (with the platform topics if asked); wiped on exit."""
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        data_dir = Path(tmp)
        try:
            result = cluster.up(data_dir, 1, port_base=free_port_base(1), provision=provision)
            yield result.record.bootstrap_servers
        finally:
            cluster.down(data_dir, wipe=True)


def create_topic(bootstrap: str, name: str, partitions: int) -> str:
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": logging.getLogger(__name__)}
    admin = AdminClient(conf)
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=30)
    return name
