"""Three brokers, one killed mid-stream: nothing acknowledged is lost or duplicated.

The 2017 notes' fault tolerance and cluster coordination, with KRaft in place
of ZooKeeper: replication factor 3, min.insync.replicas 2, an idempotent
``acks=all`` producer, and the active controller SIGKILLed while it sends.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import psutil
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from fleet.cluster_state import ClusterRecord, state_file
from fleet.config import KafkaSettings
from fleet.topics import TELEMETRY, TopicSpec, ensure_topics
from infra.node import kill_node
from infra.ports import free_port_base
from tests.utils.cli import infra_env, run_infra, status_json
from tests.utils.kafka import unique

pytestmark = pytest.mark.cluster

MESSAGES = 3000


@pytest.fixture(scope="module")
def three_brokers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    data_dir = tmp_path_factory.mktemp("three-brokers")
    env = infra_env(data_dir, free_port_base(3))
    try:
        up = run_infra("kafka", "up", "--brokers", "3", env=env)
        assert up.returncode == 0, up.stderr
        record = ClusterRecord.read(state_file(data_dir))
        assert record is not None
        yield {"env": env, "data_dir": data_dir, "record": record}
    finally:
        run_infra("kafka", "down", "--wipe", env=env)


def test_three_brokers_replicate_every_platform_topic(three_brokers):
    info = status_json(three_brokers["env"])
    assert info["brokers_up"] == [1, 2, 3]
    assert info["controller"] in (1, 2, 3)
    telemetry = next(t for t in info["topics"] if t["name"] == TELEMETRY)
    assert all(len(p["replicas"]) == 3 and len(p["isr"]) == 3 for p in telemetry["partitions"])
    # Leadership is spread, so losing any one broker moves some partitions.
    assert {p["leader"] for p in telemetry["partitions"]} == {1, 2, 3}

    admin = AdminClient({"bootstrap.servers": info["bootstrap_servers"]})
    (future,) = admin.describe_configs([ConfigResource(ResourceType.TOPIC, TELEMETRY)]).values()
    assert future.result()["min.insync.replicas"].value == "2"
    (broker,) = admin.describe_configs([ConfigResource(ResourceType.BROKER, "1")]).values()
    assert broker.result()["offsets.topic.replication.factor"].value == "3"
    assert broker.result()["transaction.state.log.min.isr"].value == "2"


def _produce_through_a_kill(producer: Producer, topic: str, kill: threading.Event) -> set[bytes]:
    acked: set[bytes] = set()
    failed: list[object] = []

    def on_delivery(err: object, msg) -> None:
        if err:
            failed.append(err)
        else:
            acked.add(msg.value())

    for i in range(MESSAGES):
        producer.produce(
            topic, key=f"car-{i % 50}".encode(), value=str(i).encode(), on_delivery=on_delivery
        )
        producer.poll(0)
        if i == MESSAGES // 3:
            kill.set()
        time.sleep(0.002)
    assert producer.flush(120) == 0
    # acks=all with idempotence retries through the leader change; nothing should fail.
    assert not failed, failed[:3]
    return acked


def _read_back(bootstrap: str, topic: str, partitions: int) -> list[bytes]:
    # Partitions assigned directly: no group coordinator to wait for after the kill.
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("readback"),
                         "enable.auto.commit": False})  # fmt: skip
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
                for p in range(partitions)}  # fmt: skip
        done = {p for p, end in ends.items() if end == 0}
        values = []
        deadline = time.monotonic() + 60
        while len(done) < partitions and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            values.append(msg.value())
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
        assert len(done) == partitions, f"read back only partitions {sorted(done)}"
        return values
    finally:
        consumer.close()


def test_killing_the_controller_loses_no_acknowledged_message(three_brokers):
    env, data_dir = three_brokers["env"], three_brokers["data_dir"]
    record: ClusterRecord = three_brokers["record"]
    bootstrap = record.bootstrap_servers
    topic = unique("failover")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    ensure_topics(admin, [TopicSpec(topic, 6)], brokers=3)

    victim_id = status_json(env)["controller"]
    victim = next(n for n in record.nodes if n.node_id == victim_id)
    producer = Producer(KafkaSettings(bootstrap_servers=bootstrap).producer_config())
    kill = threading.Event()
    killer = threading.Thread(target=lambda: kill.wait(60) and kill_node(victim))
    killer.start()
    acked = _produce_through_a_kill(producer, topic, kill)
    killer.join()

    assert not psutil.pid_exists(victim.pid) or psutil.Process(victim.pid).status() == "zombie"
    assert len(acked) == MESSAGES
    counts = Counter(_read_back(bootstrap, topic, 6))
    assert set(counts) == acked, f"{len(acked - set(counts))} acknowledged messages missing"
    assert max(counts.values()) == 1, "a message was written twice"

    # The cluster knows: the victim is down and another node leads the quorum.
    deadline = time.monotonic() + 30
    while True:
        info = status_json(env)
        if info["controller"] not in (None, victim_id) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert info["brokers_down"] == [victim_id]
    assert info["controller"] in {1, 2, 3} - {victim_id}

    # `up` restarts only the node that is down; it rejoins and catches up.
    restarted = run_infra("kafka", "up", env=env)
    assert restarted.returncode == 0, restarted.stderr
    info = status_json(env)
    assert info["brokers_up"] == [1, 2, 3]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        parts = next(t for t in status_json(env)["topics"] if t["name"] == topic)["partitions"]
        if all(len(p["isr"]) == 3 for p in parts):
            break
        time.sleep(1)
    assert all(victim_id in p["isr"] for p in parts), "the restarted broker should catch up"
    record_after = ClusterRecord.read(state_file(data_dir))
    assert record_after is not None
    assert [n.pid for n in record_after.nodes if n.node_id != victim_id] == [
        n.pid for n in record.nodes if n.node_id != victim_id
    ]


def test_down_leaves_no_kafka_process_behind(three_brokers):
    env = three_brokers["env"]
    record = ClusterRecord.read(state_file(three_brokers["data_dir"]))
    assert record is not None
    down = run_infra("kafka", "down", env=env)
    assert down.returncode == 0, down.stderr
    for node in record.nodes:
        assert not psutil.pid_exists(node.pid) or psutil.Process(node.pid).status() == "zombie"
