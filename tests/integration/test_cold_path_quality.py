"""Simulator -> Kafka -> archiver -> Spark batch -> score: the cold path against ground truth."""

from __future__ import annotations

import subprocess
import sys

from cold_path import batch
from cold_path.archive import Archiver
from cold_path.config import ColdPathSettings
from cold_path.score import score
from fleet.store import connect


def test_fuel_efficiency_meets_its_targets_against_the_simulators_truth(
    tmp_path, spark, kafka_settings, kafka_bootstrap, new_topic, group_id
):
    topic = new_topic(6)
    truth = tmp_path / "truth"
    sim = subprocess.run(
        [sys.executable, "-m", "simulator", "--cars", "12", "--hz", "0.2", "--duration", "5400",
         "--speedup", "max", "--seed", "21", "--topic", topic, "--truth-out", str(truth),
         "--no-progress"],
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert sim.returncode == 0, sim.stderr
    settings = ColdPathSettings(
        topic=topic, group_id=group_id("cold-path"), master_dir=tmp_path / "master",
        watermark_lag_s=0, spark_shuffle_partitions=2,
    )  # fmt: skip
    Archiver(settings, kafka_settings).run(idle_exit_s=3)
    engine = connect(f"sqlite:///{tmp_path / 'serving.db'}")

    batch.run(spark, engine, settings)
    result = score(engine, truth)

    assert result.missing == []
    assert result.max_error is not None and result.max_error <= 0.02, result.vehicles
    assert result.spearman is not None and result.spearman >= 0.99
    assert result.routes_compared > 0 and result.route_disagreements == []
    assert result.passed
