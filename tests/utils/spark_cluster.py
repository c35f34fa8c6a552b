"""A Spark standalone cluster (one master, one worker) from the pyspark package's own scripts."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyspark

from infra.ports import free_port_base

SPARK_HOME = Path(pyspark.__file__).parent


def _spark_class(*args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOG_DIR": str(log.parent)}
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(SPARK_HOME / "bin" / "spark-class"), *args], env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip


@contextmanager
def standalone_cluster(workdir: Path) -> Iterator[str]:
    """Yields the master URL once a worker has registered; stops both on exit."""
    base = free_port_base(2)
    port, ui, worker_ui = base, base + 1, base + 100
    procs = []
    try:
        procs.append(_spark_class(
            "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
            "--port", str(port), "--webui-port", str(ui), log=workdir / "master.log",
        ))  # fmt: skip
        url = f"spark://127.0.0.1:{port}"
        procs.append(_spark_class(
            "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "1",
            "--memory", "768m", "--webui-port", str(worker_ui), "--work-dir", str(workdir / "work"),
            log=workdir / "worker.log",
        ))  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=2) as r:
                    if any(w.get("state") == "ALIVE" for w in json.load(r).get("workers", [])):
                        yield url
                        return
            except OSError:
                pass
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"Spark exited at start-up; see {workdir}")
            time.sleep(0.5)
        raise TimeoutError(f"no Spark worker registered within 90 s; see {workdir}")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
