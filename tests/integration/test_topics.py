"""Topic provisioning from the declarative list: creates, grows, aligns, and is idempotent."""

from __future__ import annotations

from dataclasses import replace

from confluent_kafka.admin import ConfigResource, ResourceType

from fleet.topics import TopicSpec, ensure_topics, platform_topics
from tests.utils.kafka import unique


def _config(admin, topic: str) -> dict[str, str]:
    (future,) = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
    return {k: v.value for k, v in future.result().items()}


def test_ensure_topics_creates_then_changes_nothing(admin):
    spec = TopicSpec(unique("prov"), 4, {"retention.ms": "3600000"})

    first = ensure_topics(admin, [spec], brokers=1)
    second = ensure_topics(admin, [spec], brokers=1)

    assert first == [f"created {spec.name} (4 partitions, replication factor 1)"]
    assert second == []
    assert len(admin.list_topics(spec.name, timeout=10).topics[spec.name].partitions) == 4
    conf = _config(admin, spec.name)
    assert conf["retention.ms"] == "3600000"
    assert conf["min.insync.replicas"] == "1"


def test_ensure_topics_grows_partitions_and_fixes_drifted_config(admin):
    name = unique("prov")
    ensure_topics(admin, [TopicSpec(name, 2, {"retention.ms": "3600000"})], brokers=1)

    changes = ensure_topics(admin, [TopicSpec(name, 6, {"retention.ms": "7200000"})], brokers=1)

    assert f"{name}: partitions 2 -> 6" in changes
    assert f"{name}: retention.ms 3600000 -> 7200000" in changes
    assert len(admin.list_topics(name, timeout=10).topics[name].partitions) == 6
    assert _config(admin, name)["retention.ms"] == "7200000"


def test_the_platform_topic_specs_provision_with_explicit_retention(admin):
    # Copies under uuid names: a shared cluster's real fleet.* topics stay untouched.
    specs = [replace(s, name=unique(s.name)) for s in platform_topics()]
    ensure_topics(admin, specs, brokers=1)

    topics = admin.list_topics(timeout=10).topics
    for spec in specs:
        assert len(topics[spec.name].partitions) == spec.partitions
        assert _config(admin, spec.name)["retention.ms"] == spec.config["retention.ms"]
