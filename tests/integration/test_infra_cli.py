"""``python -m infra kafka``: the lifecycle a newcomer runs, and every failure explained."""

from __future__ import annotations

import socket
import stat

import psutil

from fleet.cluster_state import ClusterRecord, state_file
from fleet.topics import platform_topics
from infra.ports import free_port_base
from tests.utils.cli import infra_env, run_infra, status_json


def _pids(data_dir) -> list[int]:
    record = ClusterRecord.read(state_file(data_dir))
    assert record is not None
    return [n.pid for n in record.nodes]


def _kafka_processes_under(data_dir) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "kafka.Kafka" in cmdline and any(str(data_dir) in arg for arg in cmdline):
            found.append(proc)
    return found


def test_up_status_down_lifecycle(tmp_path):
    base = free_port_base(1)
    env = infra_env(tmp_path, base)

    up = run_infra("kafka", "up", env=env)
    assert up.returncode == 0, up.stderr
    assert f"bootstrap servers: 127.0.0.1:{base}" in up.stdout
    assert "created fleet.telemetry (12 partitions, replication factor 1)" in up.stderr
    pids = _pids(tmp_path)
    try:
        again = run_infra("kafka", "up", env=env)
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stderr
        assert _pids(tmp_path) == pids
        assert len(_kafka_processes_under(tmp_path)) == 1

        info = status_json(env)
        assert info["bootstrap_servers"] == f"127.0.0.1:{base}"
        assert info["brokers_up"] == [1] and info["brokers_down"] == []
        assert info["controller"] == 1
        partitions = {t["name"]: len(t["partitions"]) for t in info["topics"]}
        assert partitions == {s.name: s.partitions for s in platform_topics()}
    finally:
        down = run_infra("kafka", "down", "--wipe", env=env)
    assert down.returncode == 0, down.stderr
    assert "stopped node(s) [1]" in down.stdout
    assert _kafka_processes_under(tmp_path) == []
    assert not (tmp_path / "kafka").exists()

    gone = run_infra("kafka", "status", env=env, timeout=60)
    assert gone.returncode == 1
    assert "no Kafka cluster answered" in gone.stderr
    assert "next:" in gone.stderr and "Traceback" not in gone.stderr


def test_a_taken_port_is_named_with_the_next_step(tmp_path):
    base = free_port_base(1)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base))
        squatter.listen()
        proc = run_infra("kafka", "up", env=infra_env(tmp_path, base))
    assert proc.returncode == 1
    assert f"port {base} on 127.0.0.1 is taken" in proc.stderr
    assert "--port-base" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_java_says_how_to_install_it(tmp_path):
    env = infra_env(
        tmp_path, free_port_base(1), JAVA_HOME=str(tmp_path / "no-jdk"), PATH=str(tmp_path)
    )
    proc = run_infra("kafka", "up", env=env)
    assert proc.returncode == 1
    assert "no Java 17 or newer found" in proc.stderr
    assert "openjdk-17" in proc.stderr


def test_a_broker_that_dies_during_start_up_shows_its_log(tmp_path):
    # A 1 MiB heap: the JVM refuses to start, as a real misconfiguration would.
    env = infra_env(tmp_path, free_port_base(1), INFRA_KAFKA_HEAP="1m")
    proc = run_infra("kafka", "up", env=env)
    assert proc.returncode == 1
    assert "Kafka node 1 exited during start-up" in proc.stderr
    assert "heap" in proc.stderr.lower()  # the tail of server.log, where the JVM said why
    assert "server.log" in proc.stderr


def test_maven_missing_or_failing_is_explained(tmp_path):
    libs = tmp_path / "libs"
    missing = run_infra(
        "kafka", "jars",
        env=infra_env(tmp_path, INFRA_KAFKA_LIBS_DIR=str(libs), INFRA_MAVEN="mvn-not-installed"),
    )  # fmt: skip
    assert missing.returncode == 1
    assert "Maven (mvn-not-installed) is needed" in missing.stderr
    assert "apt-get install -y maven" in missing.stderr

    # A Maven that cannot reach the repository: what it printed is shown.
    offline = tmp_path / "offline-mvn"
    offline.write_text(
        "#!/bin/sh\necho '[ERROR] Could not transfer artifact: Network is unreachable'\nexit 1\n"
    )
    offline.chmod(offline.stat().st_mode | stat.S_IEXEC)
    failing = run_infra(
        "kafka",
        "jars",
        env=infra_env(tmp_path, INFRA_KAFKA_LIBS_DIR=str(libs), INFRA_MAVEN=str(offline)),
    )
    assert failing.returncode == 1
    assert "Maven could not resolve the Kafka jars" in failing.stderr
    assert "Network is unreachable" in failing.stderr
    assert not libs.exists()


def test_status_reports_each_groups_lag_per_partition(
    kafka_bootstrap, new_topic, producer, make_consumer, group_id
):
    from confluent_kafka import TopicPartition

    from fleet.config import KafkaSettings
    from infra.status import collect
    from tests.utils.kafka import produce_all, wait_for_assignment

    topic = new_topic(2)
    produce_all(producer, topic, [(f"car-{i}".encode(), b"x") for i in range(40)])
    group = group_id("lagging")
    consumer = make_consumer(group)
    consumer.subscribe([topic])
    wait_for_assignment([consumer], partitions=2)
    # The group has finished with the first five records of each partition.
    consumer.commit(offsets=[TopicPartition(topic, p, 5) for p in (0, 1)], asynchronous=False)

    info = collect(KafkaSettings(bootstrap_servers=kafka_bootstrap), None)
    (entry,) = [g for g in info["consumer_groups"] if g["group"] == group]
    mine = {p["partition"]: p for p in entry["partitions"] if p["topic"] == topic}
    assert entry["members"] == 1
    assert sorted(mine) == [0, 1]
    assert sum(p["end"] for p in mine.values()) == 40
    assert all(p["committed"] == 5 and p["lag"] == p["end"] - 5 for p in mine.values())
    assert entry["total_lag"] == 30


def test_provisioning_without_a_cluster_says_what_to_do(tmp_path):
    env = infra_env(tmp_path, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port_base(1)}")
    proc = run_infra("kafka", "topics", env=env, timeout=60)
    assert proc.returncode == 1
    assert "Kafka did not answer" in proc.stderr
    assert "next:" in proc.stderr and "Traceback" not in proc.stderr
