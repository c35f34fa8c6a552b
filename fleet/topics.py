"""The platform's topics, declared once, and their idempotent provisioning."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from fleet.config import TopicSettings
from fleet.errors import FleetError

log = logging.getLogger(__name__)

TELEMETRY = "fleet.telemetry"
ALERTS = "fleet.alerts"
DEAD_LETTER = "fleet.telemetry.dlq"

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class TopicSpec:
    """A topic as the platform wants it; ``config`` excludes replication settings."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    purpose: str = ""


def replication_factor(brokers: int) -> int:
    """Three copies where the cluster has three brokers, fewer on a smaller one."""
    return max(1, min(3, brokers))


def min_insync_replicas(rf: int) -> int:
    """With three copies an acknowledged write survives one broker lost; below that, 1."""
    return 2 if rf >= 3 else 1


def platform_topics(settings: TopicSettings | None = None) -> list[TopicSpec]:
    s = settings or TopicSettings()
    return [
        TopicSpec(
            TELEMETRY,
            s.telemetry_partitions,
            {
                "retention.ms": str(s.telemetry_retention_hours * HOUR_MS),
                "cleanup.policy": "delete",
            },
            "every car's readings, keyed by VIN",
        ),
        TopicSpec(
            ALERTS,
            s.telemetry_partitions,
            {"retention.ms": str(s.alerts_retention_hours * HOUR_MS), "cleanup.policy": "delete"},
            "alerts opened and resolved by the hot path, keyed by VIN",
        ),
        TopicSpec(
            DEAD_LETTER,
            s.dead_letter_partitions,
            {
                "retention.ms": str(s.dead_letter_retention_hours * HOUR_MS),
                "cleanup.policy": "delete",
            },
            "records that failed the contract, with the reason in headers",
        ),
    ]


class ProvisioningError(FleetError):
    """A topic could not be brought to its declared shape."""


def ensure_topics(
    admin: AdminClient, specs: list[TopicSpec], *, brokers: int, timeout: float = 30.0
) -> list[str]:
    """Create missing topics, add partitions and fix configs that differ.

    Returns one line per change made; an empty list means nothing changed.
    Partitions are never removed (Kafka cannot) and a topic with more
    partitions than declared is reported, not touched.
    """
    rf = replication_factor(brokers)
    wanted = {
        s.name: (s, {**s.config, "min.insync.replicas": str(min_insync_replicas(rf))})
        for s in specs
    }
    existing = admin.list_topics(timeout=timeout).topics
    changes: list[str] = []
    to_see: list[str] = []  # topics to wait for in the metadata
    created: set[str] = set()  # made here with the declared configs: nothing to align

    missing = [
        NewTopic(name, spec.partitions, rf, config=conf)
        for name, (spec, conf) in wanted.items()
        if name not in existing
    ]
    for name, future in (
        admin.create_topics(missing, request_timeout=timeout).items() if missing else []
    ):
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                to_see.append(name)  # metadata was stale or another provisioner won
                continue
            raise ProvisioningError(f"cannot create topic {name}: {exc.args[0].str()}") from exc
        spec = wanted[name][0]
        changes.append(f"created {name} ({spec.partitions} partitions, replication factor {rf})")
        created.add(name)
        to_see.append(name)  # created: in the metadata of every client only a moment later
    if to_see:
        # Returned only once the topics are listed: a caller (or a test) that lists them next
        # found a topic missing right after its creation (CI, 2026-11-25).
        existing = {**existing, **_wait_for_metadata(admin, to_see, timeout)}

    grow = []
    for name, (spec, _) in wanted.items():
        if name not in existing:
            continue
        have = len(existing[name].partitions)
        if have < spec.partitions:
            grow.append(NewPartitions(name, spec.partitions))
            changes.append(f"{name}: partitions {have} -> {spec.partitions}")
        elif have > spec.partitions:
            log.warning(
                "%s has %d partitions, more than the %d declared", name, have, spec.partitions
            )
    for name, future in admin.create_partitions(grow).items() if grow else []:
        try:
            future.result()
        except KafkaException as exc:
            raise ProvisioningError(f"cannot add partitions to {name}: {exc}") from exc

    # Not the topics just created: besides having their configs, they may be unknown still
    # to the broker that answers (CI, 2026-11-26: UNKNOWN_TOPIC_OR_PART from a fresh topic
    # on three brokers, listed by another broker a moment before).
    aligned = {n: c for n, (_, c) in wanted.items() if n in existing and n not in created}
    changes.extend(_align_configs(admin, aligned, timeout))
    return changes


def _wait_for_metadata(admin: AdminClient, names: list[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        topics = admin.list_topics(timeout=timeout).topics
        found = {n: topics[n] for n in names if n in topics}
        if len(found) == len(names) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


_MIN_ISR = "min.insync.replicas"


def _lowers_durability(current: dict[str, str], diff: dict[str, str]) -> bool:
    # Provisioning never weakens a topic: with a broker down the cluster looks
    # smaller than it is, and lowering min.insync.replicas would silently
    # accept writes that one more failure would lose.
    if _MIN_ISR not in diff or current.get(_MIN_ISR) is None:
        return False
    return int(diff[_MIN_ISR]) < int(current[_MIN_ISR])


def _describe_configs(
    admin: AdminClient, names: list[str], timeout: float
) -> dict[str, dict[str, str]]:
    """Each topic's current config; a topic another provisioner has just made may be
    unknown for a moment to the broker that answers, so that is asked again until
    ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in names]
        try:
            return {resource.name: {k: v.value for k, v in future.result().items()}
                    for resource, future in admin.describe_configs(resources).items()}  # fmt: skip
        except KafkaException as exc:
            if (exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART
                    or time.monotonic() > deadline):  # fmt: skip
                raise
        time.sleep(0.2)


def _align_configs(
    admin: AdminClient, wanted: dict[str, dict[str, str]], timeout: float = 30.0
) -> list[str]:
    if not wanted:
        return []
    changes: list[str] = []
    updates: list[ConfigResource] = []
    for name, current in _describe_configs(admin, list(wanted), timeout).items():
        diff = {k: v for k, v in wanted[name].items() if current.get(k) != v}
        if _lowers_durability(current, diff):
            log.warning("%s: keeping min.insync.replicas %s", name, current.get(_MIN_ISR))
            diff.pop(_MIN_ISR)
        if diff:
            entries = [
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                for k, v in diff.items()
            ]
            updates.append(ConfigResource(ResourceType.TOPIC, name, incremental_configs=entries))
            changes.extend(f"{name}: {k} {current.get(k)} -> {v}" for k, v in diff.items())
    for resource, future in admin.incremental_alter_configs(updates).items() if updates else []:
        try:
            future.result()
        except KafkaException as exc:
            raise ProvisioningError(f"cannot update config of {resource.name}: {exc}") from exc
    return changes
