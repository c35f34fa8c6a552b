"""The hot-path worker as the integration tests run it: a real process on uuid topics."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, TopicPartition

from tests.utils.kafka import unique


def worker_env(
    base: dict[str, str],
    kafka_bootstrap: str,
    new_topic: Callable[..., str],
    state_dir: Path,
    partitions: int,
) -> dict[str, str]:
    """``base`` plus a worker of its own: group, topics, state directory; no ports bound.

    On the default event loop: a ``HOT_LOOP`` of the developer's shell is left out.
    """
    return {
        **{k: v for k, v in base.items() if k != "HOT_LOOP"},
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "HOT_APP_ID": unique("hot-path"),
        "HOT_TELEMETRY_TOPIC": new_topic(partitions),
        "HOT_ALERTS_TOPIC": new_topic(partitions),
        "HOT_DEAD_LETTER_TOPIC": new_topic(1),
        "HOT_DATA_DIR": str(state_dir),
        "HOT_WEB_ENABLED": "false",
        "HOT_METRICS_PORT": "0",
        "HOT_LOG_LEVEL": "warn",
        "TOPIC_TELEMETRY_PARTITIONS": str(partitions),
    }


@contextmanager
def running_worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m hot_path worker`` writing to ``log``; SIGTERM (then SIGKILL) at the end."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hot_path", "worker"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM, as a user's Ctrl-C or a service manager would; SIGKILL after ``timeout``."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def views_group(env: dict[str, str]) -> str:
    """The consumer group of the worker's speed-view writer."""
    return env.get("HOT_SPEED_GROUP") or f"{env['HOT_APP_ID']}-views"


def wait_for_commits(
    watcher: Consumer, wanted: list[TopicPartition], worker: subprocess.Popen[bytes], log: Path,
    timeout: float = 60, what: str = "the group",
) -> None:  # fmt: skip
    """Until ``watcher``'s group (never joined) has committed the end of every partition."""
    deadline = time.monotonic() + timeout
    ends: list[int] = []
    committed: list[int] = []
    while time.monotonic() < deadline:
        assert worker.poll() is None, f"worker exited:\n{log.read_text()[-3000:]}"
        ends = [watcher.get_watermark_offsets(tp, timeout=10)[1] for tp in wanted]
        try:  # an empty partition has no committed offset (negative): nothing to wait for
            committed = [max(tp.offset, 0) for tp in watcher.committed(wanted, timeout=10)]
        except KafkaException:  # the group coordinator is still loading or moving
            committed = []
        if committed == ends:
            return
        time.sleep(0.3)
    raise AssertionError(f"{what} did not reach {ends} ({committed}):\n{log.read_text()[-3000:]}")


def wait_for_views(
    make_consumer: Callable[..., Consumer], env: dict[str, str], partitions: int,
    worker: subprocess.Popen[bytes], log: Path, timeout: float = 60,
) -> None:  # fmt: skip
    """Until the speed-view writer has written every telemetry record and alert there is.

    The writer commits its offsets to Kafka only after the store holds the rows, so a
    committed end means the views are complete (`hot_path.view_writer`).
    """
    topics = (env["HOT_TELEMETRY_TOPIC"], env["HOT_ALERTS_TOPIC"])
    wanted = [TopicPartition(topic, p) for topic in topics for p in range(partitions)]
    wait_for_commits(make_consumer(views_group(env)), wanted, worker, log, timeout,
                     what="the speed views")  # fmt: skip
