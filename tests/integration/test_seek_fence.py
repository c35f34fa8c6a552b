"""A seek while Faust's fetch loop holds a batch, against the session broker.

A worker's recovery seeks its partitions to the committed offsets, and its
reread of lost records seeks back, while the fetch loop may hold a batch
fetched from the old position. The app in `tests.integration.seek_app` makes
that happen on purpose: an agent slower than its fetch loop seeks back from
offset 1,500 to 500.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from fleet.config import KafkaSettings
from tests.utils.kafka import create_topic, produce_all, unique

AT, TO, END = 1500, 500, 3000


@pytest.fixture(scope="module")
def filled_topic(kafka_settings: KafkaSettings, admin: AdminClient) -> str:
    topic = create_topic(admin, 1)
    records = [(str(o).encode(), f"record {o}".encode() + b"." * 200) for o in range(END)]
    produce_all(Producer(kafka_settings.producer_config()), topic, records)
    return topic


@dataclass
class Outcome:
    read: list[int]
    """The offsets the agent read after the seek, in order."""
    committed: int
    log: str


def read_with(
    consumer: str, how: str, topic: str, bootstrap: str, tmp_path: Path,
    make_consumer: Callable[..., Consumer],
) -> Outcome:  # fmt: skip
    """Run the app with ``consumer``, seeking back ``how``."""
    group, out = unique(f"seek-{consumer}"), tmp_path / f"{consumer}.json"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SEEK_TOPIC": topic,
        "SEEK_GROUP": group,
        "SEEK_CONSUMER": consumer,
        "SEEK_HOW": how,
        "SEEK_AT": str(AT),
        "SEEK_TO": str(TO),
        "SEEK_END": str(END),
        "SEEK_OUT": str(out),
        "SEEK_DATA": str(tmp_path / f"{consumer}-data"),
    }
    log = tmp_path / f"{consumer}.log"
    with log.open("wb") as sink:
        cmd = [sys.executable, "-m", "tests.integration.seek_app", "worker", "-l", "info"]
        done = subprocess.run(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT, timeout=120)
    assert out.exists(), (
        f"the app wrote nothing (exit {done.returncode}):\n{log.read_text()[-3000:]}"
    )
    result = json.loads(out.read_text())
    assert result["sought_after"], "the agent never reached the offset it seeks back from"
    (committed,) = make_consumer(group).committed([TopicPartition(topic, 0)], timeout=10)
    return Outcome(result["read"][result["sought_after"][0] :], committed.offset, log.read_text())


HOW = ["seek_wait", "committed"]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("consumer", ["fenced", "inline"])
def test_after_a_seek_the_agent_reads_on_from_the_sought_offset(
    consumer: str, how: str, filled_topic: str, kafka_bootstrap: str, tmp_path: Path,
    make_consumer: Callable[..., Consumer],
) -> None:  # fmt: skip
    got = read_with(consumer, how, filled_topic, kafka_bootstrap, tmp_path, make_consumer)
    # First what was in the agent's queue already (handed over before the seek), then
    # every record from the sought offset on, in order, each once.
    start = got.read.index(TO)
    queued = got.read[:start]
    assert queued == list(range(AT + 1, AT + 1 + len(queued))), queued[:20]
    assert len(queued) <= 60  # the queue's 50, and what the delivery in hand held
    assert got.read[start:] == list(range(TO, END))
    assert got.committed == END
    assert "records fetched before a seek; reading again from 500" in got.log  # the race ran


@pytest.mark.parametrize("how", HOW)
def test_faust_s_own_consumer_skips_the_records_sought_back_to_and_commits_past_them(
    how: str, filled_topic: str, kafka_bootstrap: str, tmp_path: Path,
    make_consumer: Callable[..., Consumer],
) -> None:  # fmt: skip
    """What the fence is for: with Faust's consumer the seek reads nothing again."""
    got = read_with("faust", how, filled_topic, kafka_bootstrap, tmp_path, make_consumer)
    assert not set(range(TO, AT)) & set(got.read), "Faust's consumer read them again"
    assert got.committed == END
