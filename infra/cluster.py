"""Bring a local KRaft cluster up and down, and know exactly which processes are ours."""

from __future__ import annotations

import fcntl
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

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
from infra.ports import ensure_port_free

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


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """One `up` or `down` at a time per data directory."""
    path = data_dir / "kafka" / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InfraError(
                f"another `python -m infra kafka` command is working on {data_dir / 'kafka'}",
                "wait for it to finish, then run this again",
            ) from None
        yield


def up(
    data_dir: Path,
    brokers: int | None = None,
    *,
    settings: InfraSettings | None = None,
    port_base: int | None = None,
    provision: bool = True,
    progress: Progress = log.info,
) -> UpResult:
    """Start (or complete) the local cluster and wait until every broker has registered.

    ``brokers`` defaults to the recorded cluster's size, or 1 for a new one.
    """
    settings = settings or InfraSettings()
    with _locked(data_dir):
        return _up(data_dir, brokers, settings, port_base, provision, progress)


def _up(
    data_dir: Path,
    brokers: int | None,
    settings: InfraSettings,
    port_base: int | None,
    provision: bool,
    progress: Progress,
) -> UpResult:
    began = time.monotonic()
    record = load(data_dir)
    _check_request(data_dir, record, brokers, port_base)
    java = jars.find_java(settings)
    progress(f"Kafka {jars.kafka_version()} jars: {settings.kafka_libs_dir}")
    classpath = str(jars.resolve_jars(settings) / "*")

    if record is None:
        count = brokers or 1
        base = settings.port_base if port_base is None else port_base
        plans = plan_nodes(data_dir, count, base)
        rf = replication_factor(count)
        record = ClusterRecord(
            cluster_id=new_cluster_id(),
            kafka_version=jars.kafka_version(),
            bootstrap_servers=",".join(f"127.0.0.1:{p.port}" for p in plans),
            replication_factor=rf,
            min_insync_replicas=min_insync_replicas(rf),
        )
        # Recorded before anything is formatted: an interrupted first `up` is
        # resumed with the same cluster id, never a second one.
        record.write(state_file(data_dir))
    else:
        plans = plan_nodes(data_dir, record.brokers, record.port_base)

    alive = {n.node_id for n in live_nodes(record)}
    to_start = [p for p in plans if p.node_id not in alive]
    if to_start:
        check_ports_free(to_start)
    nodes = {n.node_id: n for n in record.nodes}
    started: list[NodeRecord] = []
    try:
        for plan in to_start:
            plan.home.mkdir(parents=True, exist_ok=True)
            plan.log_dir.mkdir(parents=True, exist_ok=True)
            plan.config_file.write_text(render_properties(plan, plans))
            format_storage(plan, record.cluster_id, java, classpath)
        for plan in to_start:
            progress(f"starting node {plan.node_id} on 127.0.0.1:{plan.port}")
            node = start_process(plan, java, classpath, settings.kafka_heap)
            started.append(node)
            nodes[plan.node_id] = node
            # Record every start at once, so `down` finds even a half-started cluster.
            record = replace(record, nodes=[nodes[k] for k in sorted(nodes)])
            record.write(state_file(data_dir))
        wait_until_registered(record, started, settings.start_timeout_s, progress)
        changes: list[str] = []
        if provision:
            admin = AdminClient({"bootstrap.servers": record.bootstrap_servers, "log_level": 2})
            changes = ensure_topics(admin, platform_topics(), brokers=record.brokers)
    except BaseException:
        # Whatever went wrong (Ctrl-C included), leave no half-started JVM behind.
        stop_processes(started, timeout=5)
        raise
    return UpResult(record, [n.node_id for n in started], changes, time.monotonic() - began)


def _check_request(
    data_dir: Path, record: ClusterRecord | None, brokers: int | None, port_base: int | None
) -> None:
    if brokers is not None and brokers not in (1, 3):
        raise InfraError(f"--brokers must be 1 or 3, not {brokers}", "use --brokers 1 or 3")
    if record is None:
        return
    running = bool(live_nodes(record))
    if brokers is not None and brokers != record.brokers:
        if running:
            raise InfraError(
                f"a {record.brokers}-broker cluster is already running "
                f"at {record.bootstrap_servers}",
                "stop it first with `python -m infra kafka down`",
            )
        raise InfraError(
            f"{data_dir / 'kafka'} holds a {record.brokers}-broker cluster's data",
            "wipe it with `python -m infra kafka down --wipe`, "
            f"or ask for --brokers {record.brokers}",
        )
    if port_base is not None and port_base != record.port_base:
        raise InfraError(
            f"the cluster in {data_dir / 'kafka'} uses ports from {record.port_base}, "
            f"not {port_base}",
            "keep its ports, or wipe it with `python -m infra kafka down --wipe` first",
        )


def check_ports_free(plans: list[NodePlan]) -> None:
    for plan in plans:
        for port in (plan.port, plan.controller_port):
            ensure_port_free(
                port,
                "stop what holds it, or start on other ports with "
                "`python -m infra kafka up --port-base N`",
            )


def wait_until_registered(
    record: ClusterRecord, started: list[NodeRecord], timeout: float, progress: Progress
) -> None:
    """Poll until every node is a registered broker; fail fast if one dies.

    A node this call started must also answer on its own listener: after a
    SIGKILL its previous incarnation stays registered until its session
    times out, so the cluster's word alone could be stale.
    """
    # log_level 2: "connection refused" until a listener opens is expected here
    quiet = {"socket.timeout.ms": 2000, "log_level": 2}
    admin = AdminClient({"bootstrap.servers": record.bootstrap_servers, **quiet})
    own = {
        n.node_id: AdminClient({"bootstrap.servers": f"127.0.0.1:{n.port}", **quiet})
        for n in started
    }
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
        registered = _registered(admin)
        for node_id, client in list(own.items()):
            if node_id in registered and _serves(client, node_id):
                del own[node_id]
        ready = registered - set(own)
        if ready - seen:
            progress(f"brokers registered: {sorted(ready)} of {sorted(expected)}")
            seen = ready
        if expected <= ready:
            return
        if time.monotonic() > deadline:
            worst = next(n for n in record.nodes if n.node_id not in ready)
            raise InfraError(
                f"only brokers {sorted(ready)} of {sorted(expected)} registered "
                f"within {timeout:.0f}s",
                f"read {worst.log_file}, or raise INFRA_START_TIMEOUT_S on a slow machine",
                details=tail_file(Path(worst.log_file)),
            )
        time.sleep(0.2)


def _registered(admin: AdminClient) -> set[int]:
    try:
        return {n.id for n in admin.describe_cluster(request_timeout=2).result().nodes}
    except KafkaException:
        return set()


def _serves(client: AdminClient, node_id: int) -> bool:
    """Whether the node's own listener answers metadata requests as ``node_id``."""
    try:
        return node_id in client.list_topics(timeout=2).brokers
    except KafkaException:
        return False


def down(data_dir: Path, *, wipe: bool = False, settings: InfraSettings | None = None) -> list[int]:
    """Stop the processes `up` recorded (only those); with ``wipe`` delete their data too."""
    settings = settings or InfraSettings()
    with _locked(data_dir):
        record = load(data_dir)
        stopped = stop_processes(record.nodes, settings.stop_timeout_s) if record else []
    if wipe:
        shutil.rmtree(data_dir / "kafka", ignore_errors=True)
    return stopped
