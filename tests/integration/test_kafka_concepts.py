"""The 2017 notes' Kafka concepts, each shown against a real broker.

Producers, keyed partitions, consumer groups, offsets and retention, as the
platform's own client configuration uses them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict

from aiokafka import AIOKafkaProducer
from confluent_kafka import TopicPartition
from confluent_kafka.admin import ConfigResource, ResourceType

from fleet.vin import with_check_digit
from tests.utils.kafka import consume, produce_all, wait_for_assignment

VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


def random_vins(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [with_check_digit("".join(rng.choices(VIN_ALPHABET, k=17))) for _ in range(n)]


def test_one_key_lands_in_one_partition_in_produced_order(
    new_topic, producer, make_consumer, group_id
):
    topic = new_topic(12)
    vins = random_vins(8, seed=1)
    # Interleave the cars, as a fleet does; the producer never names a partition.
    records = [(vin.encode(), f"{vin}:{seq}".encode()) for seq in range(40) for vin in vins]
    produce_all(producer, topic, records)

    consumer = make_consumer(group_id("order"))
    consumer.subscribe([topic])
    (got,) = consume([consumer], len(records))

    assert len(got) == len(records)
    partitions = defaultdict(set)
    seqs = defaultdict(list)
    for msg in sorted(got, key=lambda m: (m.partition(), m.offset())):
        vin, seq = msg.value().decode().split(":")
        partitions[vin].add(msg.partition())
        seqs[vin].append(int(seq))
    assert all(len(p) == 1 for p in partitions.values()), partitions
    assert all(s == list(range(40)) for s in seqs.values())
    assert len({next(iter(p)) for p in partitions.values()}) > 1, "keys should spread"


def test_confluent_and_aiokafka_put_a_vin_on_the_same_partition(
    new_topic, producer, kafka_bootstrap
):
    topic = new_topic(12)
    vins = random_vins(300, seed=2)
    reports = produce_all(producer, topic, [(v.encode(), b"c") for v in vins])
    confluent = {m.key().decode(): m.partition() for m in reports}

    async def produce_with_aiokafka() -> dict[str, int]:
        aio = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await aio.start()
        try:
            sent = {v: await aio.send(topic, b"a", key=v.encode()) for v in vins}
            return {v: (await fut).partition for v, fut in sent.items()}
        finally:
            await aio.stop()

    aiokafka = asyncio.run(produce_with_aiokafka())
    assert confluent == aiokafka
    assert len(set(confluent.values())) == 12, "300 VINs should reach every partition"


def test_each_group_gets_every_message_and_members_split_partitions(
    new_topic, producer, make_consumer, group_id
):
    topic = new_topic(6)
    hot, cold = group_id("hot-path"), group_id("cold-path")
    hot_members = [make_consumer(hot), make_consumer(hot)]
    cold_member = make_consumer(cold)
    for c in [*hot_members, cold_member]:
        c.subscribe([topic])
    wait_for_assignment(hot_members, partitions=6)
    wait_for_assignment([cold_member], partitions=6)

    records = [(v.encode(), f"{v}:{i}".encode()) for i, v in enumerate(random_vins(120, seed=3))]
    produce_all(producer, topic, records)

    hot_got = consume(hot_members, len(records))
    (cold_got,) = consume([cold_member], len(records))

    sent = Counter(value for _, value in records)
    assert Counter(m.value() for m in cold_got) == sent
    assert Counter(m.value() for member in hot_got for m in member) == sent
    first, second = ({m.partition() for m in member} for member in hot_got)
    assert first and second and not first & second, (first, second)


def test_a_consumer_that_comes_back_resumes_from_its_committed_offset(
    new_topic, producer, make_consumer, group_id
):
    topic = new_topic(1)
    produce_all(producer, topic, [(b"car", str(i).encode()) for i in range(10)])
    group = group_id("offsets")

    first = make_consumer(group)
    first.subscribe([topic])
    processed = []
    deadline = time.monotonic() + 30
    while len(processed) < 5 and time.monotonic() < deadline:
        msg = first.poll(1.0)
        if msg is None:
            continue
        processed.append(int(msg.value()))
        first.store_offsets(msg)  # the work is done: only now may the offset move
    first.commit(asynchronous=False)
    first.close()

    second = make_consumer(group)
    second.subscribe([topic])
    (rest,) = consume([second], 5)
    extra = second.poll(2.0)

    assert processed == [0, 1, 2, 3, 4]
    assert [int(m.value()) for m in rest] == [5, 6, 7, 8, 9]
    assert extra is None
    committed = second.committed([TopicPartition(topic, 0)], timeout=10)
    assert committed[0].offset == 5


def test_retention_is_a_topic_config_the_broker_reports(new_topic, admin):
    week = str(7 * 24 * 3_600_000)
    topic = new_topic(1, config={"retention.ms": week})
    configs = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)])
    (future,) = configs.values()
    entry = future.result()["retention.ms"]
    assert entry.value == week
    assert not entry.is_default
