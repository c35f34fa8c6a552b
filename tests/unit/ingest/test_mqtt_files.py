"""Mosquitto's configuration and ACL as infra writes them (no broker started)."""

from __future__ import annotations

import pytest

from infra import mqtt
from infra.errors import InfraError


def test_acl_lets_a_vehicle_write_only_its_own_topic_and_the_bridge_read_all():
    acl = mqtt.render_acl(["2HGCM82633A004352", "1HGCM82633A004352"])
    blocks = [b.strip().splitlines() for b in acl.split("\n\n") if b.startswith("user")]
    assert blocks == [
        ["user ingest-bridge", "topic read vehicles/+/telemetry"],
        ["user 1HGCM82633A004352", "topic write vehicles/1HGCM82633A004352/telemetry"],
        ["user 2HGCM82633A004352", "topic write vehicles/2HGCM82633A004352/telemetry"],
    ]


def test_config_refuses_anonymous_clients_and_listens_on_loopback(tmp_path):
    paths = mqtt.MqttPaths.of(tmp_path)
    conf = mqtt.render_conf(paths, mqtt.MqttSettings(port=28999)).splitlines()
    assert "allow_anonymous false" in conf
    assert "listener 28999 127.0.0.1" in conf
    assert f"password_file {paths.passwd}" in conf and f"acl_file {paths.acl}" in conf


def test_the_port_comes_from_infra_mqtt_port(monkeypatch):
    monkeypatch.setenv("INFRA_MQTT_PORT", "28777")
    assert mqtt.MqttSettings().port == 28777


def test_a_missing_mosquitto_names_the_package_to_install(tmp_path):
    settings = mqtt.MqttSettings(binary="no-such-mosquitto-binary")
    with pytest.raises(InfraError) as caught:
        mqtt.up(tmp_path, settings)
    assert "apt-get install -y mosquitto" in caught.value.next_step


def test_the_bridge_password_is_created_once_and_private(tmp_path):
    first = mqtt.bridge_password(tmp_path)
    assert mqtt.bridge_password(tmp_path) == first and len(first) >= 40
    assert mqtt.MqttPaths.of(tmp_path).bridge_secret.stat().st_mode & 0o077 == 0
