"""``python -m infra demo`` (``make demo``) as a newcomer runs it: real Kafka, every component.

Each test gets its own data directory and free ports, and starts its own
broker through the demo itself (that is part of what is tested). Both take
minutes on two cores: the bounded run waits for a real Spark batch.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from fleet.cluster_state import ClusterRecord, state_file
from fleet.config import REPO_ROOT
from fleet.store import connect, current_version
from infra.demo_check import BatchFacts, Verdict, judge_alerts, judge_batch, parse_time, read_jsonl
from infra.node import is_ours
from infra.ports import free_port_base

SETTINGS_PREFIXES = ("KAFKA_", "INFRA_", "SERVING_", "HOT_", "COLD_", "DEMO_", "SIM_", "TOPIC_")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The developer's environment minus anything that points at their own platform."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(SETTINGS_PREFIXES) and k not in ("DATA_DIR", "DATABASE_URL")
    }
    env.update(
        DATA_DIR=str(data_dir),
        INFRA_PORT_BASE=str(free_port_base(1)),
        SERVING_PORT=str(_free_port()),
        HOT_METRICS_PORT=str(_free_port()),
        **extra,
    )
    return env


def leftovers(data_dir: Path) -> list[str]:
    """Processes still running for this data directory: a component, or a Kafka node."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if str(data_dir) in cmdline or proc.environ().get("DATA_DIR") == str(data_dir):
                if proc.pid != os.getpid():
                    found.append(f"{proc.pid}: {cmdline[:120]}")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def assert_all_stopped(data_dir: Path, output: str) -> None:
    assert not leftovers(data_dir), f"left running: {leftovers(data_dir)}\n{output}"
    record = ClusterRecord.read(state_file(data_dir))
    assert record is not None, "the demo recorded no Kafka cluster"
    assert not [n for n in record.nodes if is_ours(n)], "the Kafka the demo started still runs"
    assert "stopped node(s) [1] (the demo started it)" in output


# The check's judgement on its own (no broker): it must be able to fail.

VIN = "WF463VSW6NA426515"


def _alert(kind: str, opened: str, vin: str = VIN) -> dict[str, str]:
    return {"vin": vin, "kind": kind, "opened_at": opened}


def test_the_check_fails_when_no_injected_fault_has_its_alert() -> None:
    faults = [{"vin": VIN, "kind": "engine_overheat",
               "start": "2026-01-05T06:00:00Z", "end": "2026-01-05T06:20:00Z"}]  # fmt: skip
    wrong_kind = [_alert("battery_low", "2026-01-05T06:05:00Z")]
    too_late = [_alert("engine_overheat", "2026-01-05T07:00:00Z")]
    other_car = [_alert("engine_overheat", "2026-01-05T06:05:00Z", vin="WF2H7HU41NA474703")]
    for alerts in (wrong_kind, too_late, other_car, []):
        verdict = Verdict()
        judge_alerts(alerts, faults, {VIN}, verdict)
        assert not verdict.ok, alerts
    verdict = Verdict()
    judge_alerts([_alert("engine_overheat", "2026-01-05T06:04:00Z")], faults, {VIN}, verdict)
    assert verdict.ok, verdict.problems
    assert "1 of 1 injected faults have an alert" in verdict.seen[0]


def test_the_check_fails_on_a_stale_or_foreign_batch_view() -> None:
    start = parse_time("2026-01-05T06:00:00Z")
    vehicles = [{"vin": VIN, "last_seen": "2026-01-05T08:00:00Z"}]
    facts = BatchFacts(version=3, finished_ago_s=10, run_seconds=60, staleness_bound_s=3600)

    def problems(version: int | None, watermark: str | None) -> list[str]:
        verdict = Verdict()
        cluster = {"batch": {"version": version, "watermark": watermark}}
        judge_batch(cluster, vehicles, facts, start, verdict)
        return verdict.problems

    assert problems(3, "2026-01-05T07:30:00Z") == []
    assert problems(None, None)  # nothing published
    assert problems(2, "2026-01-05T07:30:00Z")  # not what the demo's last run published
    assert problems(3, "2026-01-05T05:59:00Z")  # from before this run's first event
    assert problems(3, "2026-01-05T06:30:00Z")  # 90 min behind, 60 allowed


@pytest.mark.timeout(420)
def test_a_component_that_dies_stops_the_demo_with_its_name_and_log(tmp_path: Path) -> None:
    env = demo_env(tmp_path, DEMO_CARS="10", DEMO_STOP_GRACE_S="10")
    log = tmp_path / "demo.out"
    with log.open("w") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "infra", "demo"],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while "dashboard:" not in log.read_text():
            assert demo.poll() is None, f"the demo ended before it was up:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"not up in 240s:\n{log.read_text()}"
            time.sleep(1)
        archiver = [
            p
            for p in psutil.Process(demo.pid).children(recursive=True)
            if p.cmdline()[-2:] == ["cold_path", "archive"]
        ]
        assert len(archiver) == 1, [p.cmdline() for p in psutil.Process(demo.pid).children()]
        archiver[0].send_signal(signal.SIGKILL)
        rc = demo.wait(timeout=150)
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGTERM)
            demo.wait(timeout=120)
    output = log.read_text()
    assert rc == 1, output
    assert "error: archiver was killed by SIGKILL" in output
    # Its log's tail and the next step, so the reader knows where to look.
    assert f"last lines of {tmp_path / 'demo' / 'logs' / 'archiver.log'}:" in output
    assert "python -m cold_path archive" in output.split("error: archiver", 1)[1]
    assert_all_stopped(tmp_path, output)


@pytest.mark.timeout(900)
def test_a_bounded_demo_checks_the_platform_end_to_end_and_exits_0(tmp_path: Path) -> None:
    env = demo_env(tmp_path, DEMO_SECONDS="90")
    proc = subprocess.run(
        [sys.executable, "-m", "infra", "demo"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=840,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "check passed" in output

    # The check really looked: its summary names what it found, and that agrees
    # with what the run left behind (the simulator's truth, the serving store).
    faults = read_jsonl(tmp_path / "demo" / "truth" / "faults.jsonl")
    found = re.search(r"alerts: (\d+) of (\d+) injected faults have an alert", output)
    assert found, output
    assert int(found[2]) == len(faults) > 0
    assert int(found[1]) >= 1
    batch = re.search(r"batch: GET /cluster serves version (\d+), watermark (\S+),", output)
    assert batch, output
    engine = connect(f"sqlite:///{tmp_path / 'serving.db'}")
    published = current_version(engine)
    engine.dispose()
    assert published is not None and published[1] is not None
    assert (int(batch[1]), parse_time(batch[2])) == published
    assert re.search(r"leaderboard: GET /fleet/efficiency ranks [1-9]\d* cars", output)
    assert re.search(r"report: GET /reports lists demo-\d{8}-\d{6} as the latest", output)
    assert_all_stopped(tmp_path, output)
