from __future__ import annotations

from fleet.cluster_state import ClusterRecord, state_file
from fleet.config import DEFAULT_BOOTSTRAP, KafkaSettings, TopicSettings
from fleet.topics import (
    ALERTS,
    DEAD_LETTER,
    TELEMETRY,
    min_insync_replicas,
    platform_topics,
    replication_factor,
)


def test_producers_wait_for_every_replica_and_hash_like_the_java_client():
    conf = KafkaSettings(bootstrap_servers="k:9092").producer_config()
    assert conf["acks"] == "all"
    assert conf["enable.idempotence"] is True
    assert conf["partitioner"] == "murmur2_random"
    assert conf["bootstrap.servers"] == "k:9092"


def test_consumers_store_offsets_only_when_told():
    conf = KafkaSettings(bootstrap_servers="k:9092").consumer_config("hot-path")
    assert conf["group.id"] == "hot-path"
    assert conf["enable.auto.offset.store"] is False


def test_secrets_do_not_leak_into_repr(monkeypatch):
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "hunter2")
    settings = KafkaSettings()
    assert "hunter2" not in repr(settings)
    assert settings.common_config()["sasl.password"] == "hunter2"


def test_bootstrap_comes_from_env_then_the_infra_record_then_the_default(tmp_path, monkeypatch):
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert KafkaSettings().bootstrap(tmp_path) == DEFAULT_BOOTSTRAP

    ClusterRecord("id", "4.4.0", "127.0.0.1:29092,127.0.0.1:29093", 3, 2).write(
        state_file(tmp_path)
    )
    assert KafkaSettings().bootstrap(tmp_path) == "127.0.0.1:29092,127.0.0.1:29093"

    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert KafkaSettings().common_config()["bootstrap.servers"].startswith("127.0.0.1:29092")

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "elsewhere:9092")
    assert KafkaSettings().bootstrap(tmp_path) == "elsewhere:9092"


def test_replication_follows_the_cluster_size():
    assert [replication_factor(n) for n in (1, 2, 3, 5)] == [1, 2, 3, 3]
    assert [min_insync_replicas(rf) for rf in (1, 2, 3)] == [1, 1, 2]


def test_the_platform_topics_are_declared_once_with_explicit_retention(monkeypatch):
    monkeypatch.setenv("TOPIC_TELEMETRY_PARTITIONS", "24")
    specs = {s.name: s for s in platform_topics(TopicSettings())}
    assert set(specs) == {TELEMETRY, ALERTS, DEAD_LETTER}
    assert specs[TELEMETRY].partitions == 24
    assert all("retention.ms" in s.config for s in specs.values())
    assert specs[TELEMETRY].config["retention.ms"] == str(7 * 24 * 3_600_000)
