"""Builders and helpers for tests that talk to a real broker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create_topic(
    admin: AdminClient,
    partitions: int,
    *,
    replication_factor: int = 1,
    config: dict[str, str] | None = None,
    prefix: str = "test",
) -> str:
    """A fresh uuid-named topic, returned once every partition has a leader."""
    name = unique(prefix)
    new = NewTopic(name, partitions, replication_factor, config=config or {})
    admin.create_topics([new])[name].result(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        topic = admin.list_topics(name, timeout=10).topics.get(name)
        if topic and topic.error is None and len(topic.partitions) == partitions:
            if all(p.leader >= 0 for p in topic.partitions.values()):
                return name
        time.sleep(0.1)
    raise TimeoutError(f"topic {name} has no leader for every partition after 30s")


def produce_all(
    producer: Producer, topic: str, records: Iterable[tuple[bytes, bytes]]
) -> list[Message]:
    """Produce ``(key, value)`` pairs; return the delivery reports, raising on any error."""
    reports: list[Message] = []
    errors = []

    def on_delivery(err: object, msg: Message) -> None:
        (errors if err else reports).append(err or msg)

    for key, value in records:
        producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(30)
    assert remaining == 0, f"{remaining} records still undelivered after 30s"
    assert not errors, f"delivery failed: {errors[:3]}"
    return reports


def consume(consumers: list[Consumer], count: int, timeout: float = 30) -> list[list[Message]]:
    """Poll every consumer in turn until ``count`` records arrived in all; per consumer lists."""
    got: list[list[Message]] = [[] for _ in consumers]
    deadline = time.monotonic() + timeout
    while sum(map(len, got)) < count and time.monotonic() < deadline:
        for i, consumer in enumerate(consumers):
            msg = consumer.poll(0.1)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            got[i].append(msg)
    return got


def wait_for_assignment(consumers: list[Consumer], partitions: int, timeout: float = 30) -> None:
    """Poll until the group has settled with every partition assigned to someone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for consumer in consumers:
            consumer.poll(0.05)
        assigned = [len(c.assignment()) for c in consumers]
        if sum(assigned) == partitions and all(assigned):
            return
    raise TimeoutError(f"group did not settle: assignments {assigned} of {partitions}")
