"""The hot-path worker as the integration tests run it: a real process on uuid topics."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.utils.kafka import unique


def worker_env(
    base: dict[str, str],
    kafka_bootstrap: str,
    new_topic: Callable[..., str],
    state_dir: Path,
    partitions: int,
) -> dict[str, str]:
    """``base`` plus a worker of its own: group, topics, state directory; no ports bound."""
    return {
        **base,
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
