"""What the 2017 notes had ZooKeeper answer: which brokers are up, who leads, who lags."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from fleet.cluster_state import ClusterRecord
from fleet.config import KafkaSettings
from infra.errors import InfraError
from infra.node import is_ours


def active_controller(log_dirs: Iterable[Path]) -> int | None:
    """The KRaft quorum leader, read from the live nodes' quorum-state files.

    Brokers answer metadata requests with a random broker as "controller" in
    KRaft mode, so the metadata log's own record is the reliable source: the
    leader named with the highest epoch among the nodes still running.
    """
    best: tuple[int, int] | None = None
    for log_dir in log_dirs:
        path = log_dir / "__cluster_metadata-0" / "quorum-state"
        try:
            state = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            continue
        leader, epoch = state.get("leaderId", -1), state.get("leaderEpoch", -1)
        if leader >= 0 and (best is None or epoch > best[1]):
            best = (leader, epoch)
    return best[0] if best else None


def _addresses(bootstrap: str) -> set[str]:
    return {a.strip().replace("localhost:", "127.0.0.1:") for a in bootstrap.split(",")}


def collect(
    kafka: KafkaSettings,
    record: ClusterRecord | None,
    *,
    internal: bool = False,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Everything `kafka status` shows, as plain data (the --json output)."""
    bootstrap = kafka.bootstrap()
    ours = record is not None and bool(_addresses(record.bootstrap_servers) & _addresses(bootstrap))
    # log_level 2: a broker that is down is reported in the result, not as log noise
    admin = AdminClient(
        kafka.admin_config(**{"socket.timeout.ms": int(timeout * 1000), "log_level": 2})
    )
    try:
        desc = admin.describe_cluster(request_timeout=timeout).result()
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise InfraError(
            f"no Kafka cluster answered at {bootstrap} within {timeout:.0f}s ({exc.args[0].str()})",
            "start one with `python -m infra kafka up`, or set KAFKA_BOOTSTRAP_SERVERS",
        ) from None

    registered = {n.id: n for n in desc.nodes}
    brokers: list[dict[str, Any]] = []
    if ours and record is not None:
        for node in record.nodes:
            alive = is_ours(node)
            brokers.append({
                "id": node.node_id,
                "address": f"127.0.0.1:{node.port}",
                "up": alive and node.node_id in registered,
                "process": node.pid if alive else None,
                "log": node.log_file,
            })  # fmt: skip
        controller = active_controller(Path(n.log_dir) for n in record.nodes if is_ours(n))
    else:
        brokers = [
            {"id": n.id, "address": f"{n.host}:{n.port}", "up": True, "process": None, "log": None}
            for n in sorted(registered.values(), key=lambda n: n.id)
        ]
        controller = None  # not knowable from a broker connection in KRaft mode

    topics = []
    for name in sorted(metadata.topics):
        if name.startswith("__") and not internal:
            continue
        parts = metadata.topics[name].partitions
        topics.append({
            "name": name,
            "partitions": [
                {
                    "partition": p.id,
                    "leader": p.leader if p.leader >= 0 else None,
                    "replicas": list(p.replicas),
                    "isr": list(p.isrs),
                    "under_replicated": len(p.isrs) < len(p.replicas),
                }
                for p in sorted(parts.values(), key=lambda p: p.id)
            ],
        })  # fmt: skip

    return {
        "bootstrap_servers": bootstrap,
        "cluster_id": desc.cluster_id,
        "managed_by_infra": ours,
        "brokers": brokers,
        "brokers_up": [b["id"] for b in brokers if b["up"]],
        "brokers_down": [b["id"] for b in brokers if not b["up"]],
        "controller": controller,
        "topics": topics,
        "consumer_groups": consumer_groups(admin, timeout),
    }


def consumer_groups(admin: AdminClient, timeout: float) -> list[dict[str, Any]]:
    """Every consumer group with its committed offset, log end and lag per partition.

    A partition a member holds but has never committed shows ``committed:
    null`` and its lag from the log start (the platform's consumers start
    from the earliest offset). A group whose coordinator cannot be reached
    (a broker just died) is listed with its error instead of failing it all.
    """
    listing = admin.list_consumer_groups(request_timeout=timeout).result()
    ids = sorted(g.group_id for g in listing.valid)
    if not ids:
        return []
    groups: dict[str, dict[str, Any]] = {}
    positions: dict[str, dict[tuple[str, int], int | None]] = {}
    for gid, future in admin.describe_consumer_groups(ids, request_timeout=timeout).items():
        try:
            desc = future.result()
        except KafkaException as exc:
            groups[gid] = _unknown(gid, exc)
            continue
        groups[gid] = {
            "group": gid,
            "state": str(desc.state).rsplit(".", 1)[-1].lower(),
            "members": len(desc.members),
            "error": None,
        }
        positions[gid] = {
            (tp.topic, tp.partition): None
            for m in desc.members
            for tp in (m.assignment.topic_partitions if m.assignment else [])
        }
    for gid in list(positions):
        request = [ConsumerGroupTopicPartitions(gid)]
        for _, future in admin.list_consumer_group_offsets(
            request, request_timeout=timeout
        ).items():
            try:
                committed = future.result().topic_partitions
            except KafkaException as exc:
                groups[gid] = _unknown(gid, exc)
                del positions[gid]
                continue
            for tp in committed:
                if tp.offset >= 0:
                    positions[gid][(tp.topic, tp.partition)] = tp.offset

    wanted = {key for pos in positions.values() for key in pos}
    ends = _offsets(admin, wanted, OffsetSpec.latest(), timeout)
    starts = _offsets(admin, wanted, OffsetSpec.earliest(), timeout)
    for gid, pos in positions.items():
        parts: list[dict[str, Any]] = []
        for (topic, partition), offset in sorted(pos.items()):
            end = ends.get((topic, partition))
            base = offset if offset is not None else starts.get((topic, partition))
            lag = None if end is None or base is None else max(0, end - base)
            parts.append({
                "topic": topic, "partition": partition,
                "committed": offset, "end": end, "lag": lag,
            })  # fmt: skip
        lags = [p["lag"] for p in parts]
        groups[gid]["partitions"] = parts
        groups[gid]["total_lag"] = None if None in lags else sum(lags)
    return [groups[gid] for gid in ids]


def _unknown(gid: str, exc: KafkaException) -> dict[str, Any]:
    return {
        "group": gid, "state": "unknown", "members": None, "error": exc.args[0].str(),
        "partitions": [], "total_lag": None,
    }  # fmt: skip


def _offsets(
    admin: AdminClient, keys: set[tuple[str, int]], spec: OffsetSpec, timeout: float
) -> dict[tuple[str, int], int]:
    if not keys:
        return {}
    found = {}
    request = {TopicPartition(t, p): spec for t, p in keys}
    for tp, future in admin.list_offsets(request, request_timeout=timeout).items():
        try:
            found[(tp.topic, tp.partition)] = future.result().offset
        except KafkaException:
            continue  # no leader for this partition right now: unknown
    return found
