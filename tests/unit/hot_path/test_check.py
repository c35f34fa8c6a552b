"""The offline check: simulator records through the real rules, scored against its truth."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fleet.alerts import AlertKind
from hot_path.config import RuleSettings
from hot_path.score import check_main, mistakes, read_truth, replay, score
from simulator.faults import PlannedFault
from simulator.realism import Realism
from simulator.truth import write_truth
from tests.unit.simulator.helpers import records, simulation

FAULTS = [
    PlannedFault(300.0, 2, AlertKind.DTC_ACTIVE, 600.0, 0),
    PlannedFault(400.0, 5, AlertKind.BATTERY_LOW, 1200.0),
    PlannedFault(600.0, 7, AlertKind.VEHICLE_SILENT, 420.0),
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Twelve cars for 40 simulated minutes at 0.2 Hz, three known faults, realism on."""
    out = tmp_path_factory.mktemp("tiny")
    realism = Realism(late=0.01, duplicate=0.01, reorder=0.01, malformed=0.01)
    sim = simulation(cars=12, hz=0.2, duration_s=2400.0, seed=5, faults=FAULTS, realism=realism)
    recs = records(sim)
    (out / "records.jsonl").write_bytes(b"".join(value + b"\n" for _, value in recs))
    write_truth(out, sim, {})
    return out / "records.jsonl", out


def test_every_injected_fault_is_found_and_nothing_else(tiny_run: tuple[Path, Path]) -> None:
    records_file, truth = tiny_run
    lines = records_file.read_bytes().splitlines()
    run = replay(lines, cfg=RuleSettings())
    assert run.records == len(lines) and run.dead_letters > 0 and run.duplicates > 0
    faults = read_truth(truth)
    assert {f.kind for f in faults} >= {k.kind for k in FAULTS}
    result = score(faults, run.alerts, timedelta(seconds=300))
    for fault in FAULTS:
        assert result[fault.kind].found == result[fault.kind].faults >= 1
    assert mistakes(faults, run.alerts, timedelta(seconds=300)) == ([], [])


def test_a_backlog_read_partition_by_partition_finds_the_same(tiny_run: tuple[Path, Path]) -> None:
    records_file, truth = tiny_run
    lines = records_file.read_bytes().splitlines()
    in_order = replay(lines, cfg=RuleSettings())
    uneven = replay(lines, cfg=RuleSettings(), fetch=200)
    key = [(a.vin, a.kind, a.status, a.opened_at) for a in in_order.alerts]
    assert sorted(key) == sorted((a.vin, a.kind, a.status, a.opened_at) for a in uneven.alerts)


def test_the_command_prints_the_table_and_the_mistakes(
    tiny_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    records_file, truth = tiny_run
    args = ["--records", str(records_file), "--truth", str(truth), "--no-progress", "--explain"]
    assert check_main(args) == 0
    out = capsys.readouterr().out
    assert "vehicle_silent" in out and "dead letters" in out
    assert "missed" not in out and "false" not in out


def test_a_missing_records_file_says_how_to_make_one(
    tiny_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, truth = tiny_run
    with pytest.raises(SystemExit) as exc:
        check_main(["--records", str(truth / "nope.jsonl"), "--truth", str(truth)])
    assert exc.value.code == 2
    assert "python -m simulator --output" in capsys.readouterr().err
