"""Probes the demo asks while it waits and while it runs: each answers now, never blocks long."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from confluent_kafka import ConsumerGroupState, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from fleet.topics import min_insync_replicas, replication_factor

_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")
CHANGELOG_TABLES = ("vehicles", "watermarks")
"""The hot path's Faust tables (hot_path/tables.py); their changelogs are made up front."""


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def metrics(url: str, timeout: float = 2.0) -> dict[str, float] | None:
    """Prometheus samples summed by name and ``outcome``/``status`` label; None if unreachable."""
    try:
        resp = httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return None
    if resp.status_code != 200:
        return None
    found: dict[str, float] = {}
    for line in resp.text.splitlines():
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m["labels"] or ""))
        key = m["name"]
        for label in ("outcome", "status"):
            if label in labels:
                key += f":{labels[label]}"
        try:
            found[key] = found.get(key, 0.0) + float(m["value"])
        except ValueError:
            continue
    return found


def brokers_up(admin: AdminClient, timeout: float = 3.0) -> int:
    try:
        return len(admin.describe_cluster(request_timeout=timeout).result().nodes)
    except KafkaException:
        return 0


def group_members(admin: AdminClient, group: str, timeout: float = 3.0) -> int:
    """Members of a settled group that hold partitions (0 while it is still joining)."""
    try:
        desc = admin.describe_consumer_groups([group], request_timeout=timeout)[group].result()
    except KafkaException:
        return 0
    if desc.state != ConsumerGroupState.STABLE:
        return 0
    return sum(1 for m in desc.members if m.assignment and m.assignment.topic_partitions)


def partitions(admin: AdminClient, topic: str, timeout: float = 5.0) -> int:
    meta = admin.list_topics(topic, timeout=timeout).topics.get(topic)
    if meta is None or meta.error is not None:
        return 0
    return len(meta.partitions)


def end_offsets(admin: AdminClient, topic: str, count: int, timeout: float = 3.0) -> int | None:
    """The sum of the topic's log-end offsets: how many records it ever received."""
    request = {TopicPartition(topic, p): OffsetSpec.latest() for p in range(count)}
    try:
        return sum(
            f.result().offset for f in admin.list_offsets(request, request_timeout=timeout).values()
        )
    except KafkaException:
        return None


def precreate_changelogs(
    admin: AdminClient, app_id: str, source_partitions: int, brokers: int
) -> list[str]:
    """Create the hot path's changelog topics before its worker starts.

    A worker that creates them itself on a fresh cluster can keep stale
    metadata ("changelog has 0 partitions", Faust's PartitionsMismatch) and
    crash its agent on every record (docs/hot_path.md, open issues). Made
    here with the source topic's partition count, they are simply found.
    """
    rf = replication_factor(brokers)
    existing = set(admin.list_topics(timeout=10).topics)
    wanted = [
        NewTopic(
            f"{app_id}-{table}-changelog",
            source_partitions,
            rf,
            config={
                "cleanup.policy": "compact",
                "min.insync.replicas": str(min_insync_replicas(rf)),
            },
        )
        for table in CHANGELOG_TABLES
        if f"{app_id}-{table}-changelog" not in existing
    ]
    if not wanted:
        return []
    made = []
    for name, future in admin.create_topics(wanted, request_timeout=30).items():
        try:
            future.result()
            made.append(name)
        except KafkaException as exc:
            if "already exists" not in str(exc).lower():
                raise
    return made


def parquet_files(master: str) -> int | None:
    """Data files in the master dataset; None when it is not a local directory (a URL)."""
    if "://" in master and not master.startswith("file://"):
        return None
    root = Path(master.removeprefix("file://"))
    if not root.is_dir():
        return 0
    return sum(1 for _ in root.rglob("*.parquet"))
