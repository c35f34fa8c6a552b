"""Fixtures of the ingest tests: a real Mosquitto, the gateway and the bridge as processes.

Mosquitto starts through `infra.mqtt` in a temporary data directory on a free
port; Kafka is the session broker of tests/conftest.py. The gateway and the
bridge run as ``python -m ingest`` subprocesses, as in production. When
Mosquitto cannot start the run fails with the reason; it never skips.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition
from confluent_kafka.admin import AdminClient

from fleet.config import KafkaSettings
from infra import mqtt
from infra.errors import InfraError
from infra.node import tail_file
from ingest.client import issue_credentials
from tests.utils.kafka import create_topic, unique


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Topics:
    telemetry: str
    dead_letter: str
    partitions: int = 12


@dataclass
class Service:
    """A ``python -m ingest`` process of the test's own."""

    proc: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def tail(self) -> str:
        return tail_file(self.log, 40)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="session")
def ingest_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ingest-data")


@pytest.fixture(scope="session")
def mosquitto(ingest_data_dir: Path) -> Iterator[int]:
    """The port of a Mosquitto that `infra.mqtt.up` started for this session."""
    try:
        record, _ = mqtt.up(ingest_data_dir, mqtt.MqttSettings(port=free_port()))
    except InfraError as exc:
        pytest.fail(
            f"could not start Mosquitto for the tests: {exc.cause}\n{exc.details}\n"
            f"next: {exc.next_step}",
            pytrace=False,
        )
    try:
        yield record.port
    finally:
        mqtt.down(ingest_data_dir)


@pytest.fixture(scope="session")
def topics(admin: AdminClient) -> Topics:
    return Topics(create_topic(admin, 12, prefix="telemetry"), create_topic(admin, 3, prefix="dlq"))


@pytest.fixture(scope="session")
def issue(ingest_data_dir: Path, mosquitto: int) -> Callable[[str], str]:
    """Issue a credential for a VIN (and reload Mosquitto's users); returns the token."""
    return lambda vin: issue_credentials([vin], ingest_data_dir)[vin]


def ingest_env(data_dir: Path, bootstrap: str, topics: Topics, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "INGEST_"))}
    env.update(
        DATA_DIR=str(data_dir),
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        INGEST_TELEMETRY_TOPIC=topics.telemetry,
        INGEST_DEAD_LETTER_TOPIC=topics.dead_letter,
        INGEST_BRIDGE_METRICS_PORT="0",
    )
    env.update(extra)
    return env


def start_ingest(
    command: str, env: dict[str, str], log: Path, ready: Callable[[Service], bool]
) -> Service:
    """Start ``python -m ingest COMMAND`` and wait (bounded) until ``ready``; fail with its log."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingest", command], env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    service = Service(proc, log)
    if command == "serve":
        service.url = f"http://127.0.0.1:{env['INGEST_PORT']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"ingest {command} exited at start-up:\n{service.tail()}", pytrace=False)
        if ready(service):
            return service
        time.sleep(0.1)
    service.stop()
    pytest.fail(f"ingest {command} not ready within 60s:\n{service.tail()}", pytrace=False)


def gateway_ready(service: Service) -> bool:
    try:
        return httpx.get(f"{service.url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def bridge_ready(service: Service) -> bool:
    return "subscribed to vehicles/+/telemetry" in service.log.read_text(errors="replace")


@pytest.fixture
def start_gateway(
    ingest_data_dir: Path, kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> Iterator[Callable[..., Service]]:
    """Factory: a gateway process with extra ``INGEST_*`` settings; stopped after the test."""
    started: list[Service] = []

    def start(**settings: str) -> Service:
        extra = {f"INGEST_{k.upper()}": v for k, v in settings.items()}
        extra.setdefault("INGEST_PORT", str(free_port()))
        env = ingest_env(ingest_data_dir, kafka_bootstrap, topics, **extra)
        service = start_ingest("serve", env, tmp_path / unique("gateway.log"), gateway_ready)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture(scope="session")
def gateway(
    ingest_data_dir: Path, kafka_bootstrap: str, topics: Topics, tmp_path_factory
) -> Iterator[Service]:
    """One gateway for the session's HTTP tests (each test uses VINs of its own)."""
    env = ingest_env(ingest_data_dir, kafka_bootstrap, topics, INGEST_PORT=str(free_port()))
    log = tmp_path_factory.mktemp("gateway") / "gateway.log"
    service = start_ingest("serve", env, log, gateway_ready)
    yield service
    service.stop()


@pytest.fixture
def start_bridge(
    ingest_data_dir: Path, kafka_bootstrap: str, topics: Topics, mosquitto: int, tmp_path: Path
) -> Iterator[Callable[..., Service]]:
    """Factory: a bridge process (``client_id`` fixes its MQTT session); stopped after the test."""
    started: list[Service] = []

    def start(client_id: str) -> Service:
        env = ingest_env(
            ingest_data_dir, kafka_bootstrap, topics,
            INGEST_MQTT_PORT=str(mosquitto), INGEST_MQTT_CLIENT_ID=client_id,
        )  # fmt: skip
        service = start_ingest("mqtt-bridge", env, tmp_path / unique("bridge.log"), bridge_ready)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def read_topic(kafka_settings: KafkaSettings) -> Callable[..., list[Message]]:
    """``read_topic(topic, keep, count)``: records ``keep`` selects, from the start, until
    ``count`` of them arrived (or 30 s passed)."""

    def read(
        topic: str, keep: Callable[[Message], bool], count: int, timeout: float = 30
    ) -> list[Message]:
        consumer = Consumer(kafka_settings.consumer_config(unique("ingest-test")))
        try:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
            got: list[Message] = []
            deadline = time.monotonic() + timeout
            while len(got) < count and time.monotonic() < deadline:
                msg = consumer.poll(0.2)
                if msg is not None and msg.error() is None and keep(msg):
                    got.append(msg)
            return got
        finally:
            consumer.close()

    return read


def keyed(vin: str) -> Callable[[Message], bool]:
    return lambda msg: msg.key() == vin.encode()


@pytest.fixture
def read_to_end(kafka_settings: KafkaSettings) -> Callable[[str], list[Message]]:
    """Every record of a topic up to its current end: to show something is *not* there."""

    def read(topic: str) -> list[Message]:
        consumer = Consumer(kafka_settings.consumer_config(unique("ingest-test")))
        try:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            ends = {}
            for p in meta.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                if high > low:
                    ends[p] = high
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
            got: list[Message] = []
            deadline = time.monotonic() + 30
            while ends and time.monotonic() < deadline:
                msg = consumer.poll(0.2)
                if msg is None or msg.error() is not None:
                    continue
                got.append(msg)
                if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                    ends.pop(msg.partition(), None)
            assert not ends, f"could not read {topic} to its end: {ends}"
            return got
        finally:
            consumer.close()

    return read
