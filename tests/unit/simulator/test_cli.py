"""Bad input stops the simulator with one clear line before anything is sent."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from simulator.__main__ import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cars", "-3"], "--cars"),
        (["--hz", "0"], "--hz"),
        (["--duration", "-1"], "--duration"),
        (["--fault-rate", "-0.1"], "--fault-rate"),
        (["--malformed-rate", "1.5"], "--malformed-rate"),
        (["--truth-out", "/proc/not-here"], "--truth-out"),
    ],
)
def test_bad_values_exit_non_zero_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "records.jsonl"
    assert main([*args, "--output", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err
    assert not out.exists() or out.stat().st_size == 0


@pytest.mark.parametrize("args", [["--cars", "many"], ["--start", "yesterday"], ["--bogus"]])
def test_unparseable_flags_exit_with_one_line(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err


def test_unreachable_broker_is_reported_before_sending(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    assert main(["--duration", "10", "--connect-timeout", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no Kafka broker answered at 127.0.0.1:9") and "\n" not in err


def test_summary_and_truth_after_a_file_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "records.jsonl"
    args = ["--cars", "5", "--hz", "1", "--duration", "60", "--speedup", "max", "--seed", "1",
            "--truth-out", str(tmp_path), "--output", str(out), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    assert "acknowledged" in capsys.readouterr().out
    run = orjson.loads((tmp_path / "run.json").read_bytes())
    assert run["records_sent"] == out.read_bytes().count(b"\n") == 5 * 60
    assert run["start"] == "2026-01-05T05:00:00.000Z"
