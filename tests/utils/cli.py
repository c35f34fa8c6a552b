"""Run ``python -m infra`` as a user would, against a data directory of the test's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def infra_env(data_dir: Path, port_base: int | None = None, **extra: str) -> dict[str, str]:
    # The test's own cluster, not the developer's: drop what points elsewhere,
    # keep the rest (INFRA_JAVA_HOME, INFRA_START_TIMEOUT_S, ...).
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KAFKA_BOOTSTRAP_SERVERS", "INFRA_PORT_BASE")
    }
    env["DATA_DIR"] = str(data_dir)
    if port_base is not None:
        env["INFRA_PORT_BASE"] = str(port_base)
    env.update(extra)
    return env


def run_infra(
    *args: str, env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra", *args],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def status_json(env: dict[str, str]) -> dict[str, Any]:
    proc = run_infra("kafka", "status", "--json", env=env, timeout=60)
    assert proc.returncode in (0, 3), proc.stderr
    return json.loads(proc.stdout)
