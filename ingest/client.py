"""Transports a car (or the simulator) sends telemetry with: HTTP batches or MQTT publishes.

Both follow the simulator's ``Transport`` protocol (``send`` of ``(key, value)``
pairs keyed by VIN, ``poll``, ``flush``, ``close``, and the ``sent``/``acked``/
``failed``/``bytes_sent`` counters), and hold one credential per VIN as real
cars would::

    tokens = issue_credentials(vins, data_dir)              # or `python -m ingest credential`
    transport = HttpTransport("http://127.0.0.1:8001", tokens)   # or MqttTransport(tokens)
    transport.send([(vin.encode(), encode_event(event)), ...])
    transport.flush(30); transport.close()

Records the gateway refused (and dead-lettered) count as ``acked``: the
gateway took responsibility for them; ``rejected`` counts them separately.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from fleet.errors import FleetError
from ingest.credentials import CredentialStore, sync_mosquitto

log = logging.getLogger(__name__)
Record = tuple[bytes, bytes]


class SendError(FleetError):
    """The gateway or the broker refused the credential, or stayed unavailable."""


def issue_credentials(vins: Iterable[str], data_dir: Path) -> dict[str, str]:
    """A fresh token per VIN, stored under ``data_dir`` and pushed to Mosquitto's user file."""
    store = CredentialStore(data_dir / "ingest" / "credentials.sqlite3")
    tokens = {vin: store.issue(vin) for vin in vins}
    sync_mosquitto(store, data_dir)
    return tokens


class HttpTransport:
    """Buffers records per VIN and posts batches of ``batch_size`` with that VIN's token,
    or whatever a car has once its oldest record waited ``max_wait_s`` (wall time).

    A 503 is retried after its ``Retry-After``; a retried batch may repeat
    records Kafka already has, which their ``(VIN, seq)`` identity makes harmless.
    """

    def __init__(
        self, base_url: str, tokens: dict[str, str], *, batch_size: int = 100,
        timeout: float = 30.0, max_retries: int = 30, max_wait_s: float = 1.0,
    ) -> None:  # fmt: skip
        self.tokens = tokens
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.sent = self.acked = self.failed = self.bytes_sent = self.rejected = 0
        self.retries = 0
        self._http = httpx.Client(base_url=base_url, timeout=timeout)
        self._buffers: dict[str, list[bytes]] = defaultdict(list)
        self._since: dict[str, float] = {}
        self.max_wait_s = max_wait_s

    def send(self, records: Iterable[Record]) -> None:
        for key, value in records:
            vin = key.decode()
            buffer = self._buffers[vin]
            if not buffer:
                self._since[vin] = time.monotonic()
            buffer.append(value)
            self.sent += 1
            self.bytes_sent += len(value)
            if len(buffer) >= self.batch_size:
                self.post(vin, buffer)
                buffer.clear()

    def post(self, vin: str, values: list[bytes]) -> httpx.Response:
        body = b"[" + b",".join(values) + b"]"
        headers = {
            "Authorization": f"Bearer {self.tokens[vin]}",
            "Content-Type": "application/json",
        }
        for _ in range(self.max_retries + 1):
            try:
                response = self._http.post("/v1/telemetry", content=body, headers=headers)
            except httpx.HTTPError as exc:
                self.failed += len(values)
                raise SendError(
                    f"the gateway at {self._http.base_url} did not answer ({exc}); "
                    "is `python -m ingest` running?"
                ) from None
            if response.status_code != 503:
                break
            self.retries += 1
            time.sleep(float(response.headers.get("Retry-After", "1")))
        if response.status_code in (401, 403) and "results" not in response.json():
            raise SendError(f"the gateway refused the credential of {vin}: {response.text}")
        if response.status_code >= 500:
            self.failed += len(values)
            raise SendError(f"the gateway answered {response.status_code}: {response.text[:200]}")
        result = response.json()
        self.acked += result["accepted"] + result["rejected"]
        self.rejected += result["rejected"]
        self.failed += result.get("failed", 0)
        return response

    def poll(self, timeout: float) -> None:
        """Post every car's records that waited ``max_wait_s``: a slow car is not held back."""
        started = time.monotonic()
        for vin, buffer in self._buffers.items():
            if buffer and started - self._since[vin] >= self.max_wait_s:
                self.post(vin, buffer)
                buffer.clear()
        time.sleep(max(0.0, timeout - (time.monotonic() - started)))

    def flush(self, timeout: float) -> int:
        for vin, buffer in self._buffers.items():
            if buffer:
                self.post(vin, buffer)
                buffer.clear()
        return 0

    def close(self) -> None:
        self.flush(0)
        self._http.close()


class MqttTransport:
    """One MQTT 5 connection per VIN (user name = VIN, password = token), QoS 1 publishes.

    ``acked`` counts PUBACKs: Mosquitto then holds the message for the bridge.
    A publish the ACL refuses (another car's topic) is ``failed``, with the
    reason in ``problems``.
    """

    def __init__(
        self, tokens: dict[str, str], *, host: str = "127.0.0.1", port: int = 1883,
        max_inflight: int = 200,
    ) -> None:  # fmt: skip
        self.host, self.port = host, port
        self.tokens = tokens
        self.max_inflight = max_inflight
        self.sent = self.acked = self.failed = self.bytes_sent = 0
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._clients: dict[str, mqtt.Client] = {}

    def _client(self, vin: str) -> mqtt.Client:
        client = self._clients.get(vin)
        if client is not None:
            return client
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"car-{vin}", protocol=MQTTProtocolVersion.MQTTv5
        )
        client.username_pw_set(vin, self.tokens[vin])
        client.max_inflight_messages_set(self.max_inflight)
        client.on_publish = self._on_publish
        answer: list[object] = []
        client.on_connect = lambda _c, _u, _f, reason, _p: answer.append(reason)
        client.connect(self.host, self.port, keepalive=30)
        client.loop_start()
        deadline = time.monotonic() + 10
        while not answer and time.monotonic() < deadline:
            time.sleep(0.01)
        if not answer or getattr(answer[0], "is_failure", True):
            client.loop_stop()
            raise SendError(f"Mosquitto refused {vin}: {answer[0] if answer else 'no answer'}")
        self._clients[vin] = client
        return client

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, reason: object, _p: object
    ) -> None:
        with self._lock:
            if getattr(reason, "is_failure", False):
                self.failed += 1
                self.problems.append(f"message {mid}: {reason}")
            else:
                self.acked += 1

    def connect(self, vins: Iterable[str]) -> None:
        """Open the connections up front (otherwise the first publish of each VIN does)."""
        for vin in vins:
            self._client(vin)

    def send(self, records: Iterable[Record]) -> None:
        for key, value in records:
            self.publish(key.decode(), value)

    def publish(self, vin: str, value: bytes, *, topic: str | None = None) -> None:
        """Publish on ``vehicles/<vin>/telemetry`` (or ``topic``, to test the ACL)."""
        self._client(vin).publish(topic or f"vehicles/{vin}/telemetry", value, qos=1)
        self.sent += 1
        self.bytes_sent += len(value)

    def poll(self, timeout: float) -> None:
        time.sleep(timeout)  # the network threads serve PUBACKs meanwhile

    def flush(self, timeout: float) -> int:
        """Wait until Mosquitto answered every publish; returns how many it did not."""
        deadline = time.monotonic() + timeout
        while self.acked + self.failed < self.sent and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.sent - self.acked - self.failed

    def close(self) -> None:
        left = self.flush(30)
        if left:
            log.error("%d messages were not acknowledged by Mosquitto", left)
        for client in self._clients.values():
            client.disconnect()
            client.loop_stop()
