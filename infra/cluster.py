"""Bring a local KRaft cluster up and down, and know exactly which processes are ours."""

from __future__ import annotations

import logging
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import psutil
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from fleet.cluster_state import ClusterRecord, NodeRecord, state_file
from fleet.topics import ensure_topics, min_insync_replicas, platform_topics, replication_factor
from infra import jars
from infra.config import InfraSettings
from infra.errors import InfraError
from infra.node import (
    NodePlan,
    format_storage,
    is_ours,
    new_cluster_id,
    plan_nodes,
    render_properties,
    start_process,
    stop_processes,
    tail_file,
)

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class UpResult:
    record: ClusterRecord
    started: list[int]
    """Node ids started by this call; empty when the cluster was already running."""
    topic_changes: list[str]
    seconds: float


def load(data_dir: Path) -> ClusterRecord | None:
    return ClusterRecord.read(state_file(data_dir))


def live_nodes(record: ClusterRecord) -> list[NodeRecord]:
    return [n for n in record.nodes if is_ours(n)]


def up(
    data_dir: Path,
    brokers: int = 1,
    *,
    settings: InfraSettings | None = None,
    port_base: int | None = None,
    provision: bool = True,
    progress: Progress = log.info,
) -> UpResult:
    """Start (or complete) the local cluster and wait until every broker has registered."""
    settings = settings or InfraSettings()
    if brokers not in (1, 3):
        raise InfraError(
            f"--brokers must be 1 or 3, not {brokers}", "use --brokers 1 or --brokers 3"
        )
    began = time.monotonic()
    record = load(data_dir)
    if record is not None and len(record.nodes) != brokers:
        if live_nodes(record):
            raise InfraError(
                f"a {len(record.nodes)}-broker cluster is already running "
                f"at {record.bootstrap_servers}",
                "stop it first with `python -m infra kafka down`",
            )
        raise InfraError(
            f"{data_dir / 'kafka'} holds a {len(record.nodes)}-broker cluster's data",
            "wipe it with `python -m infra kafka down --wipe`, or ask for "
            f"--brokers {len(record.nodes)}",
        )

    java = jars.find_java(settings)
    progress(f"Kafka {jars.kafka_version()} jars: {settings.kafka_libs_dir}")
    classpath = str(jars.resolve_jars(settings) / "*")

    if record is None:
        base = settings.port_base if port_base is None else port_base
        plans = plan_nodes(data_dir, brokers, base)
        rf = replication_factor(brokers)
        record = ClusterRecord(
            cluster_id=new_cluster_id(),
            kafka_version=jars.kafka_version(),
            bootstrap_servers=",".join(f"127.0.0.1:{p.port}" for p in plans),
            replication_factor=rf,
            min_insync_replicas=min_insync_replicas(rf),
        )
    else:
        first = record.nodes[0]
        plans = plan_nodes(data_dir, brokers, first.port)

    alive = {n.node_id for n in live_nodes(record)}
    to_start = [p for p in plans if p.node_id not in alive]
    if to_start:
        check_ports_free(to_start)
    nodes = {n.node_id: n for n in record.nodes}
    for plan in to_start:
        plan.home.mkdir(parents=True, exist_ok=True)
        plan.log_dir.mkdir(parents=True, exist_ok=True)
        plan.config_file.write_text(render_properties(plan, plans))
        format_storage(plan, record.cluster_id, java, classpath)
    for plan in to_start:
        progress(f"starting node {plan.node_id} on 127.0.0.1:{plan.port}")
        nodes[plan.node_id] = start_process(plan, java, classpath, settings.kafka_heap)
        # Record every start at once, so `down` finds even a half-started cluster.
        record = replace(record, nodes=[nodes[k] for k in sorted(nodes)])
        record.write(state_file(data_dir))

    try:
        wait_until_registered(record, settings.start_timeout_s, progress)
        changes: list[str] = []
        if provision:
            admin = AdminClient({"bootstrap.servers": record.bootstrap_servers, "log_level": 2})
            changes = ensure_topics(admin, platform_topics(), brokers=brokers)
    except InfraError:
        if to_start:
            stop_processes([nodes[p.node_id] for p in to_start], timeout=5)
        raise
    return UpResult(record, [p.node_id for p in to_start], changes, time.monotonic() - began)


def check_ports_free(plans: list[NodePlan]) -> None:
    for plan in plans:
        for port in (plan.port, plan.controller_port):
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    raise InfraError(
                        f"port {port} on 127.0.0.1 is taken{_port_owner(port)}",
                        "stop what holds it, or start on other ports with "
                        "`python -m infra kafka up --port-base N`",
                    ) from None


def _port_owner(port: int) -> str:
    try:
        for conn in psutil.net_connections("tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == "LISTEN" and conn.pid:
                return f" by pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        pass
    return ""


def wait_until_registered(record: ClusterRecord, timeout: float, progress: Progress) -> None:
    """Poll the cluster until every node is a registered broker; fail fast if one dies."""
    # log_level 2: "connection refused" until the listener opens is expected here
    admin = AdminClient(
        {"bootstrap.servers": record.bootstrap_servers, "socket.timeout.ms": 2000, "log_level": 2}
    )
    expected = {n.node_id for n in record.nodes}
    deadline = time.monotonic() + timeout
    seen: set[int] = set()
    while True:
        for node in record.nodes:
            if not is_ours(node):
                raise InfraError(
                    f"Kafka node {node.node_id} exited during start-up",
                    f"read {node.log_file}; after fixing the cause run "
                    "`python -m infra kafka down --wipe` and `up` again",
                    details=tail_file(Path(node.log_file)),
                )
        try:
            desc = admin.describe_cluster(request_timeout=2).result()
            registered = {n.id for n in desc.nodes}
        except KafkaException:
            registered = set()
        if registered - seen:
            progress(f"brokers registered: {sorted(registered)} of {sorted(expected)}")
            seen = registered
        if expected <= registered:
            return
        if time.monotonic() > deadline:
            worst = next(n for n in record.nodes if n.node_id not in registered)
            raise InfraError(
                f"only brokers {sorted(registered)} of {sorted(expected)} registered "
                f"within {timeout:.0f}s",
                f"read {worst.log_file}, or raise INFRA_START_TIMEOUT_S on a slow machine",
                details=tail_file(Path(worst.log_file)),
            )
        time.sleep(0.2)


def down(data_dir: Path, *, wipe: bool = False, settings: InfraSettings | None = None) -> list[int]:
    """Stop the processes `up` recorded (only those); with ``wipe`` delete their data too."""
    settings = settings or InfraSettings()
    record = load(data_dir)
    stopped = stop_processes(record.nodes, settings.stop_timeout_s) if record else []
    if wipe:
        shutil.rmtree(data_dir / "kafka", ignore_errors=True)
    return stopped
