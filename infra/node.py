"""One KRaft node (broker and controller in one JVM): its config, storage and process."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

from fleet.cluster_state import NodeRecord
from fleet.topics import min_insync_replicas, replication_factor
from infra.config import PACKAGE_DIR
from infra.errors import InfraError

LOG4J_CONFIG = PACKAGE_DIR / "log4j2.properties"
MAIN_CLASS = "kafka.Kafka"


@dataclass(frozen=True)
class NodePlan:
    node_id: int
    port: int
    controller_port: int
    home: Path
    """``DATA_DIR/kafka/node-<id>``: server.properties, server.log and the log dir."""

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def log_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.home / "server.log"


def plan_nodes(data_dir: Path, brokers: int, port_base: int) -> list[NodePlan]:
    return [
        NodePlan(i + 1, port_base + i, port_base + 100 + i, data_dir / "kafka" / f"node-{i + 1}")
        for i in range(brokers)
    ]


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding.

    Never one that starts with ``-``: command-line tools would read it as an option.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def render_properties(node: NodePlan, nodes: list[NodePlan]) -> str:
    """server.properties for ``node`` in a cluster of ``nodes``: pure, so tests read it."""
    rf = replication_factor(len(nodes))
    isr = min_insync_replicas(rf)
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes)
    props = {
        "process.roles": "broker,controller",
        "node.id": node.node_id,
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": node.log_dir,
        # Replication of the platform's defaults and of Kafka's internal topics:
        # with three brokers every write is on 3 replicas and acknowledged by 2.
        "default.replication.factor": rf,
        "min.insync.replicas": isr,
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": isr,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": isr,
        "unclean.leader.election.enable": "false",
        # Topics are declared (fleet.topics), never created by a typo.
        "auto.create.topics.enable": "false",
        "num.partitions": 1,
        # A dev cluster on a laptop: fewer offsets partitions and threads, and
        # no three-second wait before the first rebalance of a group.
        "offsets.topic.num.partitions": 12,
        "group.initial.rebalance.delay.ms": 0,
        "num.network.threads": 2,
        "num.io.threads": 4,
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def java_command(java: Path, classpath: str, heap: str, main: str, *args: str) -> list[str]:
    return [
        str(java),
        f"-Xms{min_heap(heap)}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        "-cp",
        classpath,
        main,
        *args,
    ]


def min_heap(heap: str) -> str:
    """Start at half the bounded heap: the JVM grows it only if the broker needs it."""
    digits, unit = heap[:-1], heap[-1]
    if heap[-1].isdigit() or not digits.isdigit():
        return heap
    return f"{max(1, int(digits) // 2)}{unit}"


def format_storage(node: NodePlan, cluster_id: str, java: Path, classpath: str) -> None:
    """Write meta.properties into the node's log dir, once."""
    if (node.log_dir / "meta.properties").exists():
        return
    cmd = java_command(
        java, classpath, "256m", "kafka.tools.StorageTool",
        "format", f"--cluster-id={cluster_id}", "-c", str(node.config_file), "--ignore-formatted",
    )  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise InfraError(
            f"formatting the storage of node {node.node_id} failed",
            "run `python -m infra kafka down --wipe` and try again",
            details=tail_text(proc.stdout + proc.stderr),
        )


def start_process(node: NodePlan, java: Path, classpath: str, heap: str) -> NodeRecord:
    """Start the node's JVM in its own session, so it outlives this command."""
    cmd = java_command(java, classpath, heap, MAIN_CLASS, str(node.config_file))
    with node.log_file.open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=node.home,
        )  # fmt: skip
    return NodeRecord(
        node_id=node.node_id,
        pid=proc.pid,
        port=node.port,
        controller_port=node.controller_port,
        log_dir=str(node.log_dir),
        log_file=str(node.log_file),
        started_at=psutil.Process(proc.pid).create_time(),
    )


def is_ours(record: NodeRecord) -> bool:
    """Whether ``record.pid`` is still the JVM infra started (not a reused pid)."""
    try:
        proc = psutil.Process(record.pid)
        if abs(proc.create_time() - record.started_at) > 1.0:
            return False
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return MAIN_CLASS in cmdline and any(a.endswith("server.properties") for a in cmdline)


def stop_processes(records: list[NodeRecord], timeout: float) -> list[int]:
    """SIGTERM the nodes (a controlled shutdown), SIGKILL what is left after ``timeout``."""
    live = [r for r in records if is_ours(r)]
    procs = []
    for r in live:
        try:
            proc = psutil.Process(r.pid)
            proc.send_signal(signal.SIGTERM)
            procs.append(proc)
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        proc.kill()
    psutil.wait_procs(alive, timeout=10)
    return [r.node_id for r in live]


def kill_node(record: NodeRecord) -> None:
    """SIGKILL one node, as a crash would: no controlled shutdown."""
    if is_ours(record):
        os.kill(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while is_ours(record) and time.monotonic() < deadline:
            time.sleep(0.05)
        _reap(record.pid)


def _reap(pid: int) -> None:
    # When this process started the node (tests do), collect the zombie.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def tail_text(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def tail_file(path: Path, lines: int = 25) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            return tail_text(fh.read().decode(errors="replace"), lines)
    except FileNotFoundError:
        return f"({path} does not exist)"
