"""``python -m infra mqtt``: the lifecycle a newcomer runs, and its failures explained."""

from __future__ import annotations

import json
import socket

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from infra.mqtt import MqttPaths, MqttRecord
from tests.integration.ingest.conftest import free_port
from tests.utils.cli import infra_env, run_infra


def _connect(port: int, user: str | None, password: str | None) -> int:
    """CONNACK return code of a plain MQTT 3.1.1 connection (0 = accepted)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    if user is not None:
        client.username_pw_set(user, password)
    codes: list[int] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: codes.append(reason.value)
    client.connect("127.0.0.1", port)
    for _ in range(50):
        client.loop(0.1)
        if codes:
            break
    client.disconnect()
    return codes[0]


def test_up_status_down_lifecycle(tmp_path):
    port = free_port()
    env = infra_env(tmp_path, INFRA_MQTT_PORT=str(port))
    up = run_infra("mqtt", "up", env=env, timeout=60)
    assert up.returncode == 0, up.stderr
    assert f"mqtt: 127.0.0.1:{port}" in up.stdout
    record = MqttRecord.read(MqttPaths.of(tmp_path).record)
    assert record is not None
    try:
        again = run_infra("mqtt", "up", env=env, timeout=60)
        assert "already running" in again.stderr
        assert MqttRecord.read(MqttPaths.of(tmp_path).record) == record

        info = json.loads(run_infra("mqtt", "status", "--json", env=env, timeout=60).stdout)
        assert info["running"] and info["address"] == f"127.0.0.1:{port}"

        assert _connect(port, None, None) != 0  # anonymous refused
        assert _connect(port, "ingest-bridge", "wrong") != 0
        bridge = MqttPaths.of(tmp_path).bridge_secret.read_text()
        assert _connect(port, "ingest-bridge", bridge) == 0
    finally:
        down = run_infra("mqtt", "down", env=env, timeout=60)
    assert down.returncode == 0, down.stderr
    assert f"stopped Mosquitto (pid {record.pid})" in down.stdout
    assert not psutil.pid_exists(record.pid) or psutil.Process(record.pid).status() == "zombie"
    gone = run_infra("mqtt", "status", env=env, timeout=60)
    assert gone.returncode == 3 and "not running" in gone.stdout


def test_a_taken_port_is_named_with_the_next_step(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = infra_env(tmp_path, INFRA_MQTT_PORT=str(port))
        up = run_infra("mqtt", "up", env=env, timeout=60)
    assert up.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in up.stderr
    assert "next:" in up.stderr and "INFRA_MQTT_PORT" in up.stderr
    assert "Traceback" not in up.stderr


def test_a_missing_mosquitto_says_how_to_install_it(tmp_path):
    env = infra_env(tmp_path, INFRA_MQTT_PORT=str(free_port()), INFRA_MQTT_BINARY="no-mosquitto")
    up = run_infra("mqtt", "up", env=env, timeout=60)
    assert up.returncode == 1
    assert "apt-get install -y mosquitto" in up.stderr


def test_a_broker_that_dies_at_start_shows_its_log(tmp_path):
    # /bin/false stands in for a mosquitto that exits at once (a bad config would too).
    env = infra_env(tmp_path, INFRA_MQTT_PORT=str(free_port()), INFRA_MQTT_BINARY="false")
    up = run_infra("mqtt", "up", env=env, timeout=60)
    assert up.returncode == 1
    assert "mosquitto exited during start-up" in up.stderr
    assert "mosquitto.log" in up.stderr
