"""A seed fixes the telemetry and the truth, bit for bit."""

from __future__ import annotations

from pathlib import Path

from simulator.__main__ import main
from simulator.realism import Realism
from tests.unit.simulator.helpers import records, simulation

ARGS = ["--cars", "15", "--hz", "0.5", "--duration", "900", "--speedup", "max", "--seed", "5",
        "--fault-rate", "2", "--no-progress", "--duplicate-rate", "0.01", "--late-rate", "0.01",
        "--reorder-rate", "0.01", "--malformed-rate", "0.01"]  # fmt: skip


def _run(tmp_path: Path, name: str) -> dict[str, bytes]:
    out = tmp_path / name
    code = main([*ARGS, "--truth-out", str(out), "--output", str(out / "records.jsonl")])
    assert code == 0
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_two_runs_with_one_seed_write_identical_records_and_truth(tmp_path: Path) -> None:
    first, second = _run(tmp_path, "a"), _run(tmp_path, "b")
    assert set(first) == {"faults.jsonl", "vehicles.jsonl", "routes.jsonl", "run.json",
                          "records.jsonl"}  # fmt: skip
    assert first == second
    assert first["faults.jsonl"].count(b"\n") > 0, "fault rate 2/h should inject some faults"


def test_another_seed_gives_other_records() -> None:
    one = records(simulation(seed=1, duration_s=60))
    two = records(simulation(seed=2, duration_s=60))
    assert one != two


def test_realism_switches_leave_the_good_records_unchanged_in_content() -> None:
    plain = records(simulation(duration_s=120))
    noisy = records(simulation(duration_s=120, realism=Realism(duplicate=0.05, reorder=0.05)))
    assert set(plain) == set(noisy)
    assert len(noisy) > len(plain)
