"""The MQTT path against real Mosquitto and real Kafka, including a bridge killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from fleet.deadletter import header_map
from fleet.telemetry import decode_event
from ingest.client import MqttTransport, SendError
from tests.integration.ingest.conftest import keyed
from tests.unit.ingest.builders import murmur2_partition, new_vin, record
from tests.utils.kafka import unique


def test_records_over_mqtt_land_on_the_vins_partition(
    start_bridge, issue, mosquitto, topics, read_topic
):
    start_bridge(unique("bridge"))
    vins = [new_vin() for _ in range(3)]
    tokens = {vin: issue(vin) for vin in vins}
    sender = MqttTransport(tokens, port=mosquitto)
    for seq in range(20):
        for vin in vins:
            sender.publish(vin, record(vin, seq))
    sender.close()
    assert sender.acked == 60 and sender.failed == 0
    for vin in vins:
        got = read_topic(topics.telemetry, keyed(vin), 20)
        assert sorted(decode_event(m.value()).seq for m in got) == list(range(20))
        assert {m.partition() for m in got} == {murmur2_partition(vin.encode(), 12)}
        assert {m.headers()[0] for m in got} == {("source", b"mqtt")}


def test_spoofing_over_mqtt_never_reaches_the_telemetry_topic(
    start_bridge, issue, mosquitto, topics, read_topic, read_to_end
):
    start_bridge(unique("bridge"))
    mine, victim = new_vin(), new_vin()
    issue(victim)
    sender = MqttTransport({mine: issue(mine)}, port=mosquitto)
    # Another car's topic: Mosquitto's ACL refuses the publish outright.
    sender.publish(mine, record(victim, 1), topic=f"vehicles/{victim}/telemetry")
    # Its own topic, another car's VIN inside: the bridge dead-letters it.
    sender.publish(mine, record(victim, 2))
    sender.close()
    assert sender.failed == 1 and "Not authorized" in sender.problems[0]

    [dead] = read_topic(topics.dead_letter, keyed(mine), 1)
    headers = header_map(dead.headers())
    assert (headers["reason"], headers["source"], headers["credential_vin"]) == (
        "vin_mismatch", "mqtt", mine,
    )  # fmt: skip
    assert dead.value() == record(victim, 2)
    assert not [m for m in read_to_end(topics.telemetry) if m.key() == victim.encode()]


def test_a_bad_record_over_mqtt_is_dead_lettered_with_field_and_reason(
    start_bridge, issue, mosquitto, topics, read_topic
):
    start_bridge(unique("bridge"))
    vin = new_vin()
    sender = MqttTransport({vin: issue(vin)}, port=mosquitto)
    sender.publish(vin, record(vin, 1, **{"Vehicle.Speed": float("nan")}))
    sender.close()
    [dead] = read_topic(topics.dead_letter, keyed(vin), 1)
    headers = header_map(dead.headers())
    assert (headers["reason"], headers["field"]) == ("not_finite", "Vehicle.Speed")


def test_unknown_and_revoked_credentials_cannot_connect(issue, mosquitto, ingest_data_dir):
    vin = new_vin()
    with pytest.raises(SendError, match="refused"):
        MqttTransport({vin: "made-up-token"}, port=mosquitto).publish(vin, record(vin, 1))
    token = issue(vin)
    revoke = subprocess.run(
        [sys.executable, "-m", "ingest", "credential", "revoke", "--vin", vin],
        env={**os.environ, "DATA_DIR": str(ingest_data_dir)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert revoke.returncode == 0, revoke.stderr
    assert "Mosquitto reloaded" in revoke.stderr
    with pytest.raises(SendError, match="refused"):
        MqttTransport({vin: token}, port=mosquitto).publish(vin, record(vin, 1))


def test_a_bridge_killed_mid_stream_loses_nothing_mosquitto_accepted(
    start_bridge, issue, mosquitto, topics, read_topic, read_to_end
):
    client_id = unique("bridge")
    bridge = start_bridge(client_id)
    vin = new_vin()
    sender = MqttTransport({vin: issue(vin)}, port=mosquitto, max_inflight=100)
    total = 3000
    published = threading.Event()

    def publish() -> None:
        for seq in range(total):
            sender.publish(vin, record(vin, seq))
            time.sleep(0.002)  # a car's pace, so the kill lands mid-stream on any machine
        assert sender.flush(60) == 0  # every message acknowledged by Mosquitto
        published.set()

    publisher = threading.Thread(target=publish)
    publisher.start()
    arrived = read_topic(topics.telemetry, keyed(vin), 300)
    assert len(arrived) == 300, bridge.tail()
    os.kill(bridge.proc.pid, signal.SIGKILL)
    bridge.proc.wait(10)
    before_restart = sum(1 for m in read_to_end(topics.telemetry) if m.key() == vin.encode())
    start_bridge(client_id)
    publisher.join(120)
    assert published.is_set() and sender.acked == total
    sender.close()

    # Redelivery may duplicate a record (same VIN and seq); count each identity once.
    seqs: set[int] = set()

    def first_copy(msg) -> bool:
        if msg.key() != vin.encode():
            return False
        seq = decode_event(msg.value()).seq
        fresh = seq not in seqs
        seqs.add(seq)
        return fresh

    read_topic(topics.telemetry, first_copy, total, timeout=60)
    assert before_restart < total, "the bridge had finished before it was killed"
    assert seqs == set(range(total)), f"missing: {sorted(set(range(total)) - seqs)[:20]}"


def test_a_car_claiming_the_bridges_client_id_cannot_take_its_queued_messages(
    start_bridge, issue, mosquitto, topics, read_topic
):
    bridge_id = unique("bridge")
    start_bridge(bridge_id).stop()  # its session (and subscription) outlive it
    sender_vin, thief_vin = new_vin(), new_vin()
    sender = MqttTransport({sender_vin: issue(sender_vin)}, port=mosquitto)
    sender.publish(sender_vin, record(sender_vin, 1))
    sender.close()  # Mosquitto accepted it: queued for the bridge

    # A car logs in with its own credential but the bridge's client id and a
    # clean session, which would wipe a session of that id.
    thief = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=bridge_id, clean_session=True)
    thief.username_pw_set(thief_vin, issue(thief_vin))
    thief.connect("127.0.0.1", mosquitto)
    thief.loop_start()
    time.sleep(0.5)
    thief.loop_stop()
    thief.disconnect()

    start_bridge(bridge_id)
    assert len(read_topic(topics.telemetry, keyed(sender_vin), 1)) == 1
