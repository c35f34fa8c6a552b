"""The MQTT bridge: ``vehicles/+/telemetry`` on Mosquitto into Kafka, acknowledged after Kafka.

The bridge holds a persistent session (fixed client id, ``clean_session=False``)
and subscribes at QoS 1 with manual acknowledgement: a PUBACK goes back to
Mosquitto only from Kafka's delivery callback. Whatever the bridge had not
acknowledged when it died, Mosquitto sends again when it reconnects, and what
arrives while it is down is queued in its session. A record may therefore
reach Kafka twice; its identity ``(VIN, seq)`` lets consumers drop the copy.

Mosquitto's ACL already guarantees that a message on ``vehicles/<VIN>/telemetry``
came from that VIN's credential, so the topic's VIN is the credential VIN.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from fleet.deadletter import Rejection, Source, dead_letter_headers, dead_letter_value
from fleet.errors import FleetError
from fleet.telemetry import TelemetryEvent, encode_event
from infra import mqtt as mqtt_infra
from ingest.config import IngestSettings
from ingest.metrics import IngestMetrics
from ingest.producer import Delivery, Headers, KafkaSink
from ingest.records import check_record

log = logging.getLogger(__name__)
SOURCE: Source = "mqtt"


class BridgeError(FleetError):
    """The bridge cannot run (no broker, refused credentials, Kafka gone)."""


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str
    password: str


def broker_address(settings: IngestSettings) -> BrokerAddress:
    """Where Mosquitto is: the settings, else what ``infra mqtt up`` recorded."""
    record = mqtt_infra.load(settings.data_dir)
    port = settings.mqtt_port or (record.port if record else 1883)
    if settings.mqtt_password is not None:
        password = settings.mqtt_password.get_secret_value()
    else:
        secret = mqtt_infra.MqttPaths.of(settings.data_dir).bridge_secret
        if not secret.exists():
            raise BridgeError(
                f"no bridge password at {secret}: start Mosquitto with `python -m infra mqtt up`"
                " (or set INGEST_MQTT_PASSWORD)"
            )
        password = secret.read_text().strip()
    return BrokerAddress(settings.mqtt_host, port, settings.mqtt_username, password)


def vin_of_topic(topic: str) -> str:
    parts = topic.split("/")
    return parts[1] if len(parts) == 3 else ""


class Bridge:
    def __init__(
        self, settings: IngestSettings, producer_conf: dict[str, Any], metrics: IngestMetrics
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.sink = KafkaSink(producer_conf, queue_max=settings.producer_queue_max)
        self.fatal: str | None = None
        self.subscribed = threading.Event()
        self._stopping = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.mqtt_client_id,
            clean_session=False,
            protocol=MQTTProtocolVersion.MQTTv311,
            manual_ack=True,
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 5)

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, reason: ReasonCode, _p: Any
    ) -> None:
        if reason.is_failure:
            self.fatal = f"Mosquitto refused the bridge: {reason}"
            return
        log.info("connected to Mosquitto (session present: %s)", flags.session_present)
        client.subscribe(mqtt_infra.TOPIC_PATTERN, qos=1)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, codes: list[Any], _p: Any) -> None:
        if any(c.is_failure for c in codes):
            self.fatal = f"Mosquitto refused the subscription to {mqtt_infra.TOPIC_PATTERN}"
            return
        log.info("subscribed to %s", mqtt_infra.TOPIC_PATTERN)
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if self._stopping.is_set():
            return  # not acknowledged: Mosquitto sends it again to the next bridge
        vin = vin_of_topic(msg.topic)
        payload = bytes(msg.payload)
        outcome = check_record(payload, vin)
        topic, key, value, headers = self._route(vin, payload, outcome)
        mid, qos = msg.mid, msg.qos

        def delivered(d: Delivery) -> None:
            self.metrics.produce_latency.labels(SOURCE, d.topic).observe(d.seconds)
            if d.error is not None:
                # Kafka gave up after delivery.timeout.ms; leave the message
                # unacknowledged and stop, so a restarted bridge gets it again.
                self.metrics.delivery_failures.labels(SOURCE, d.topic).inc()
                self.fatal = f"Kafka did not acknowledge a record for {d.topic}: {d.error}"
                return
            if isinstance(outcome, TelemetryEvent):
                self.metrics.accepted.labels(SOURCE).inc()
            else:
                self.metrics.dead_lettered.labels(SOURCE, outcome.reason).inc()
            client.ack(mid, qos)

        while True:
            try:
                self.sink.produce(topic, key, value, headers, delivered)
                return
            except BufferError:
                # Back-pressure: while this thread waits, Mosquitto holds the
                # rest (up to its inflight limit, then in the session queue).
                self.metrics.queue_full.labels(SOURCE).inc()
                time.sleep(0.05)

    def _route(
        self, vin: str, payload: bytes, outcome: TelemetryEvent | Rejection
    ) -> tuple[str, bytes, bytes, Headers]:
        if isinstance(outcome, TelemetryEvent):
            return (
                self.settings.telemetry_topic,
                outcome.key,
                encode_event(outcome),
                [("source", SOURCE.encode())],
            )
        self.metrics.rejected.labels(SOURCE, outcome.reason).inc()
        value, original = dead_letter_value(payload)
        headers = dead_letter_headers(outcome, source=SOURCE, credential_vin=vin,
                                      original_size=original)  # fmt: skip
        return self.settings.dead_letter_topic, vin.encode(), value, headers

    def run(
        self, address: BrokerAddress, stop: threading.Event, connect_timeout: float = 30
    ) -> None:
        """Bridge until ``stop`` is set or something fatal happens (then BridgeError)."""
        self.client.username_pw_set(address.username, address.password)
        try:
            self._connect(address, connect_timeout)
            self.client.loop_start()
            while not stop.wait(0.2):
                if self.fatal:
                    raise BridgeError(self.fatal)
        finally:
            self.close()

    def _connect(self, address: BrokerAddress, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client.connect(address.host, address.port, keepalive=30)
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise BridgeError(
                        f"Mosquitto at {address.host}:{address.port} did not answer within "
                        f"{timeout:.0f}s ({exc}); start it with `python -m infra mqtt up`"
                    ) from exc
                time.sleep(0.5)

    def close(self) -> None:
        """Stop taking messages, let Kafka acknowledge what it has (and PUBACK it), disconnect."""
        self._stopping.set()
        left = self.sink.close(30.0)
        time.sleep(0.2)  # let the network thread send the last PUBACKs
        self.client.disconnect()
        self.client.loop_stop()
        if left:
            log.error("%d messages left unacknowledged; Mosquitto will send them again", left)
