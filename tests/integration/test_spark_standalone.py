"""The batch on a real Spark standalone cluster: more machines are a URL, not a rewrite."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from cold_path.archive import Archiver
from cold_path.config import ColdPathSettings
from fleet.store import connect, current_version, vehicle_efficiency
from tests.integration.test_batch import CARS, stream
from tests.utils.kafka import produce_all
from tests.utils.spark_cluster import standalone_cluster


def test_the_batch_runs_on_a_standalone_master_by_url(
    tmp_path, kafka_settings, new_topic, producer, group_id
):
    topic = new_topic(3)
    produce_all(producer, topic, stream())
    master = tmp_path / "master"
    Archiver(
        ColdPathSettings(topic=topic, group_id=group_id("cold-path"), master_dir=master),
        kafka_settings,
    ).run(idle_exit_s=3)
    db = tmp_path / "serving.db"

    with standalone_cluster(tmp_path) as url:
        env = {
            **os.environ,
            "COLD_SPARK_MASTER": url,
            "COLD_MASTER_DIR": str(master),
            "COLD_WATERMARK_LAG_S": "0",
            "COLD_SPARK_SHUFFLE_PARTITIONS": "2",
            "COLD_SPARK_DRIVER_MEMORY": "512m",
            "COLD_SPARK_EXECUTOR_MEMORY": "512m",  # the worker offers 768m
            "DATABASE_URL": f"sqlite:///{db}",
            "PYSPARK_PYTHON": sys.executable,
        }
        proc = subprocess.run(
            [sys.executable, "-m", "cold_path", "batch"], env=env, capture_output=True,
            text=True, timeout=240, check=False,
        )  # fmt: skip
        worker_log = (tmp_path / "worker.log").read_text(errors="replace")

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Launching executor" in worker_log or "Asked to launch executor" in worker_log
    engine = connect(f"sqlite:///{db}")
    version, _ = current_version(engine)
    with engine.connect() as conn:
        rows = {r.vin: r for r in conn.execute(
            select(vehicle_efficiency).where(vehicle_efficiency.c.version == version))}  # fmt: skip
    assert set(rows) == set(CARS)
    assert rows["1M8GDM9AXKP042788"].l_per_100km == pytest.approx(15.0)
