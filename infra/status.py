"""What the 2017 notes had ZooKeeper answer: which brokers are up, who leads, who lags."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from fleet.cluster_state import ClusterRecord
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


def collect(
    bootstrap: str, record: ClusterRecord | None, *, internal: bool = False, timeout: float = 5.0
) -> dict[str, Any]:
    """Everything `kafka status` shows, as plain data (the --json output)."""
    ours = record is not None and record.bootstrap_servers == bootstrap
    # log_level 2: a broker that is down is reported in the result, not as log noise
    admin = AdminClient(
        {"bootstrap.servers": bootstrap, "socket.timeout.ms": int(timeout * 1000), "log_level": 2}
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
    """Every consumer group with its committed offset, log end and lag per partition."""
    listing = admin.list_consumer_groups(request_timeout=timeout).result()
    ids = sorted(g.group_id for g in listing.valid)
    if not ids:
        return []
    descriptions = {
        gid: f.result()
        for gid, f in admin.describe_consumer_groups(ids, request_timeout=timeout).items()
    }
    committed: dict[str, list[TopicPartition]] = {}
    for gid in ids:
        request = [ConsumerGroupTopicPartitions(gid)]
        for _, future in admin.list_consumer_group_offsets(
            request, request_timeout=timeout
        ).items():
            committed[gid] = [tp for tp in future.result().topic_partitions if tp.offset >= 0]
    wanted = {TopicPartition(tp.topic, tp.partition) for tps in committed.values() for tp in tps}
    ends: dict[tuple[str, int], int] = {}
    if wanted:
        specs = {tp: OffsetSpec.latest() for tp in wanted}
        for tp, future in admin.list_offsets(specs, request_timeout=timeout).items():
            try:
                ends[(tp.topic, tp.partition)] = future.result().offset
            except KafkaException:
                continue  # partition without a leader right now: lag unknown
    groups = []
    for gid in ids:
        desc = descriptions[gid]
        parts: list[dict[str, Any]] = []
        total = 0
        for tp in sorted(committed.get(gid, []), key=lambda t: (t.topic, t.partition)):
            end = ends.get((tp.topic, tp.partition))
            lag = None if end is None else max(0, end - tp.offset)
            total += lag or 0
            parts.append({
                "topic": tp.topic, "partition": tp.partition,
                "committed": tp.offset, "end": end, "lag": lag,
            })  # fmt: skip
        groups.append({
            "group": gid,
            "state": str(desc.state).rsplit(".", 1)[-1].lower(),
            "members": len(desc.members),
            "partitions": parts,
            "total_lag": total,
        })  # fmt: skip
    return groups
