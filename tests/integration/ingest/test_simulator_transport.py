"""The simulator as low-powered cars: `--to http` and `--to mqtt` land in fleet.telemetry."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict

from tests.integration.ingest.conftest import ingest_env

CARS, HZ, SECONDS = 3, 0.2, 120  # 3 cars x 24 records


def simulate(
    env: dict[str, str], tmp_path, seed: int, *transport: str
) -> subprocess.CompletedProcess[str]:
    # A seed per test: its own VINs, so the session's shared topic cannot mix them up.
    cmd = [
        sys.executable, "-m", "simulator", "--cars", str(CARS), "--hz", str(HZ),
        "--duration", str(SECONDS), "--speedup", "max", "--seed", str(seed), "--fault-rate", "0",
        "--truth-out", str(tmp_path / "truth"), "--no-progress", *transport,
    ]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)


def vins_of(tmp_path) -> list[str]:
    lines = (tmp_path / "truth" / "vehicles.jsonl").read_text().splitlines()
    return [json.loads(line)["vin"] for line in lines]


def per_car(messages) -> dict[str, list[int]]:
    seqs: dict[str, list[int]] = defaultdict(list)
    for msg in sorted(messages, key=lambda m: (m.partition(), m.offset())):
        seqs[msg.key().decode()].append(json.loads(msg.value())["seq"])
    return seqs


def test_simulated_cars_post_through_the_gateway(
    tmp_path, gateway, ingest_data_dir, kafka_bootstrap, topics, read_topic
):
    env = ingest_env(ingest_data_dir, kafka_bootstrap, topics)
    proc = simulate(env, tmp_path, 11, "--to", "http", "--gateway-url", gateway.url)
    assert proc.returncode == 0, proc.stderr

    vins = set(vins_of(tmp_path))
    got = read_topic(topics.telemetry, lambda m: m.key().decode() in vins, CARS * 24)
    seqs = per_car(got)
    assert set(seqs) == vins
    assert all(s == list(range(24)) for s in seqs.values()), "each car's records, in order"


def test_simulated_cars_publish_through_mosquitto_and_the_bridge(
    tmp_path, start_bridge, mosquitto, ingest_data_dir, kafka_bootstrap, topics, read_topic
):
    start_bridge("bridge-simulator")
    env = ingest_env(ingest_data_dir, kafka_bootstrap, topics)
    proc = simulate(env, tmp_path, 12, "--to", "mqtt", "--mqtt-port", str(mosquitto))
    assert proc.returncode == 0, proc.stderr

    vins = set(vins_of(tmp_path))
    got = read_topic(topics.telemetry, lambda m: m.key().decode() in vins, CARS * 24)
    seqs = per_car(got)
    assert set(seqs) == vins
    assert all(sorted(set(s)) == list(range(24)) for s in seqs.values())


def test_a_gateway_that_is_not_running_is_named_before_anything_is_sent(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = simulate(env, tmp_path, 13, "--to", "http", "--gateway-url", "http://127.0.0.1:9")
    assert proc.returncode == 2
    assert "the ingest gateway at http://127.0.0.1:9 is not reachable" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "ingest").exists(), "no credentials issued for a run that never ran"
