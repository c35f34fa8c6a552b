"""The HTTP gateway against real Kafka: answered after Kafka, per-record results, DLQ, auth."""

from __future__ import annotations

import json

import httpx

from fleet.deadletter import header_map
from fleet.telemetry import MAX_RECORD_BYTES, decode_event
from ingest.client import HttpTransport
from tests.integration.ingest.conftest import keyed
from tests.unit.ingest.builders import batch, murmur2_partition, new_vin, record


def post(gateway, token: str | None, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{gateway.url}/v1/telemetry", content=body, headers=headers, timeout=30)


def test_a_batch_is_in_kafka_on_the_vins_partition_when_the_gateway_answers(
    gateway, issue, topics, kafka_settings
):
    from confluent_kafka import Consumer, TopicPartition

    vin = new_vin()
    response = post(gateway, issue(vin), batch([record(vin, i) for i in range(100)]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (100, 0)
    expected = murmur2_partition(vin.encode(), topics.partitions)
    assert {r["kafka"]["partition"] for r in body["results"]} == {expected}

    # Read exactly the offsets the answer named: they are already there.
    consumer = Consumer(kafka_settings.consumer_config("unused"))
    try:
        first = body["results"][0]["kafka"]["offset"]
        consumer.assign([TopicPartition(topics.telemetry, expected, first)])
        got = consumer.consume(100, timeout=10)
    finally:
        consumer.close()
    assert [decode_event(m.value()).seq for m in got] == list(range(100))
    assert all(m.key() == vin.encode() for m in got)


def test_a_mixed_batch_is_207_and_the_bad_records_are_dead_lettered_verbatim(
    gateway, issue, topics, read_topic
):
    vin = new_vin()
    bad_speed = record(vin, 2, **{"Vehicle.Speed": 1e9})
    not_json = b'{"seq": 3,}'.replace(b",}", b"}")  # valid JSON, missing fields
    raws = [record(vin, 1), bad_speed, not_json, record(vin, 4)]
    response = post(gateway, issue(vin), batch(raws))
    assert response.status_code == 207, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected", "accepted"]
    assert (results[1]["reason"], results[1]["field"]) == ("out_of_range", "Vehicle.Speed")
    assert results[2]["reason"] == "missing_field"

    dead = read_topic(topics.dead_letter, keyed(vin), 2)
    assert sorted(m.value() for m in dead) == sorted([bad_speed, not_json])
    headers = header_map(next(m for m in dead if m.value() == bad_speed).headers())
    assert headers["reason"] == "out_of_range" and headers["field"] == "Vehicle.Speed"
    assert headers["source"] == "http" and headers["credential_vin"] == vin
    assert headers["time"].endswith("+00:00")
    good = read_topic(topics.telemetry, keyed(vin), 2)
    assert sorted(decode_event(m.value()).seq for m in good) == [1, 4]


def test_spoofing_another_vin_is_403_and_only_reaches_the_dead_letter_topic(
    gateway, issue, topics, read_topic, read_to_end
):
    mine, victim = new_vin(), new_vin()
    token = issue(mine)
    issue(victim)
    response = post(gateway, token, batch([record(victim, 1), record(victim, 2)]))
    assert response.status_code == 403, response.text
    assert {r["reason"] for r in response.json()["results"]} == {"vin_mismatch"}

    assert not [m for m in read_to_end(topics.telemetry) if m.key() == victim.encode()]
    dead = read_topic(topics.dead_letter, keyed(mine), 2)
    assert {header_map(m.headers())["reason"] for m in dead} == {"vin_mismatch"}
    assert all(decode_event(m.value()).vin == victim for m in dead)


def test_missing_unknown_and_revoked_credentials_are_401_401_403(gateway, issue):
    vin = new_vin()
    old = issue(vin)
    issue(vin)  # rotates: the old token is now revoked
    body = record(vin, 1)
    cases = [(None, 401, "missing_credential"), ("nope", 401, "unknown_credential"),
             (old, 403, "revoked_credential")]  # fmt: skip
    for token, status, reason in cases:
        response = post(gateway, token, body)
        assert response.status_code == status, response.text
        assert response.json()["detail"]["reason"] == reason
    assert post(gateway, None, body).headers["WWW-Authenticate"].startswith("Bearer")


def test_a_body_over_the_limit_is_413_and_its_head_is_dead_lettered(
    gateway, issue, topics, read_topic
):
    vin = new_vin()
    body = batch([record(vin, 1)] * 100) + b" " * (1024 * 1024)  # over the 1 MiB limit
    response = post(gateway, issue(vin), body)
    assert response.status_code == 413, response.text
    assert response.json()["results"][0]["reason"] == "oversized"
    [dead] = read_topic(topics.dead_letter, keyed(vin), 1)
    assert dead.value() == body[:MAX_RECORD_BYTES]
    assert int(header_map(dead.headers())["original_size"]) > MAX_RECORD_BYTES


def test_a_body_that_is_not_json_is_400_and_dead_lettered(gateway, issue, topics, read_topic):
    vin = new_vin()
    response = post(gateway, issue(vin), b"[{]")
    assert response.status_code == 400
    assert response.json()["results"][0]["field"] == "<body>"
    [dead] = read_topic(topics.dead_letter, keyed(vin), 1)
    assert dead.value() == b"[{]"
    assert header_map(dead.headers())["reason"] == "malformed_json"


def test_a_full_producer_queue_is_503_with_retry_after(start_gateway, issue):
    small = start_gateway(producer_queue_max="5")
    vin = new_vin()
    response = post(small, issue(vin), batch([record(vin, i) for i in range(10)]))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json()["detail"]["reason"] == "queue_full"


def _metrics(gateway) -> dict[str, float]:
    text = httpx.get(f"{gateway.url}/metrics", timeout=10).text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_metrics_count_accepted_rejected_and_latency(gateway, issue):
    accepted = 'ingest_records_accepted_total{source="http"}'
    rejected = 'ingest_records_rejected_total{reason="out_of_range",source="http"}'
    dead = 'ingest_records_dead_lettered_total{reason="out_of_range",source="http"}'
    latency = 'ingest_produce_latency_seconds_count{source="http"'
    before = _metrics(gateway)
    vin = new_vin()
    bad = record(vin, 3, **{"Vehicle.Speed": -1.0})
    post(gateway, issue(vin), batch([record(vin, 1), record(vin, 2), bad]))
    after = _metrics(gateway)

    def grew(prefix: str) -> float:
        # Summed over every label set the name (or name and first labels) starts.
        def total(values: dict[str, float]) -> float:
            return sum(v for k, v in values.items() if k == prefix or k.startswith(prefix + ","))

        return total(after) - total(before)

    assert (grew(accepted), grew(rejected), grew(dead)) == (2.0, 1.0, 1.0)
    assert grew(latency) >= 2.0  # one observation per record Kafka acknowledged


def test_openapi_describes_the_endpoint_and_the_event(gateway):
    spec = httpx.get(f"{gateway.url}/openapi.json", timeout=10).json()
    post_op = spec["paths"]["/v1/telemetry"]["post"]
    schema = post_op["requestBody"]["content"]["application/json"]["schema"]
    assert "Vehicle.Speed" in json.dumps(schema)
    assert {"200", "207", "401", "413", "503"} <= set(post_op["responses"])
    assert httpx.get(f"{gateway.url}/healthz", timeout=10).json() == {"status": "ok"}


def test_the_http_transport_batches_per_vin_with_each_cars_token(
    gateway, issue, topics, read_topic
):
    vins = [new_vin(), new_vin()]
    transport = HttpTransport(gateway.url, {vin: issue(vin) for vin in vins}, batch_size=100)
    transport.send((vin.encode(), record(vin, seq)) for seq in range(150) for vin in vins)
    assert transport.flush(30) == 0
    transport.close()
    assert (transport.sent, transport.acked, transport.rejected) == (300, 300, 0)
    for vin in vins:
        assert len(read_topic(topics.telemetry, keyed(vin), 150)) == 150
