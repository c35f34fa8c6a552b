"""Prometheus metrics of the gateway and the bridge, each on a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

# Kafka acknowledgement with acks=all and a 10 ms linger: milliseconds to seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class IngestMetrics:
    """Counters by source (``http``/``mqtt``) and reason; produce latency per topic."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.accepted = Counter(
            "ingest_records_accepted", "Records Kafka acknowledged on the telemetry topic",
            ["source"], registry=r,
        )  # fmt: skip
        self.rejected = Counter(
            "ingest_records_rejected", "Records refused, by reason", ["source", "reason"],
            registry=r,
        )  # fmt: skip
        self.dead_lettered = Counter(
            "ingest_records_dead_lettered", "Refused records Kafka acknowledged on the DLQ",
            ["source", "reason"], registry=r,
        )  # fmt: skip
        self.auth_failures = Counter(
            "ingest_auth_failures", "Requests refused before reading a record", ["reason"],
            registry=r,
        )  # fmt: skip
        self.queue_full = Counter(
            "ingest_producer_queue_full", "Times the producer queue was full (503 / wait)",
            ["source"], registry=r,
        )  # fmt: skip
        self.delivery_failures = Counter(
            "ingest_delivery_failures", "Records Kafka did not acknowledge", ["source", "topic"],
            registry=r,
        )  # fmt: skip
        self.produce_latency = Histogram(
            "ingest_produce_latency_seconds", "From produce() to Kafka's acknowledgement",
            ["source", "topic"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip

    def render(self) -> bytes:
        return generate_latest(self.registry)
