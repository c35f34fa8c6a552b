"""``python -m cold_path archive|batch``: the cold path's two jobs."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from cold_path.config import ColdPathSettings
from fleet.config import KafkaSettings
from fleet.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cold_path", description=__doc__)
    cmds = parser.add_subparsers(dest="command", required=True)
    archive = cmds.add_parser("archive", help="consume as group cold-path into Parquet files")
    archive.add_argument(
        "--idle-exit", type=float, default=None, metavar="SECONDS",
        help="stop once nothing has arrived for this long (for bounded runs)",
    )  # fmt: skip
    cmds.add_parser("batch", help="recompute the batch views from the master dataset (Spark)")
    score = cmds.add_parser("score", help="score the fuel-efficiency view against simulator truth")
    score.add_argument("--truth", type=Path, required=True, metavar="DIR",
                       help="the simulator's --truth-out directory (vehicles.jsonl)")  # fmt: skip
    report = cmds.add_parser("report", help="write the HTML fleet report and CSV files")
    report.add_argument("--out", type=Path, required=True, metavar="DIR")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = ColdPathSettings()
    if args.command == "score":
        return _score(args.truth)
    if args.command == "report":
        return _report(args.out)
    return _archive(settings, args.idle_exit) if args.command == "archive" else _batch(settings)


def _archive(settings: ColdPathSettings, idle_exit: float | None) -> int:
    from cold_path.archive import Archiver

    try:
        archiver = Archiver(settings, KafkaSettings())
    except ConfigError as exc:  # the master dataset's URL cannot be opened
        sys.stderr.write(f"error: {exc}\n")
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: archiver.stop())
    stats = archiver.run(idle_exit_s=idle_exit)
    sys.stderr.write(
        f"archived {stats.records} records ({stats.invalid} failed the contract, "
        f"{stats.skipped} already archived) in {stats.files} files under {archiver.master}\n"
    )
    return 0


def _batch(settings: ColdPathSettings) -> int:
    from cold_path import batch
    from cold_path.spark import session
    from fleet.store import connect

    spark = session(settings)
    try:
        result = batch.run(spark, connect(), settings)
    except (batch.NothingToPublish, ConfigError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    finally:
        spark.stop()
    for path, reason in result.excluded_files:
        sys.stderr.write(f"excluded unreadable file {path}: {reason}\n")
    sys.stderr.write(
        f"batch version {result.version}: {result.events} events up to {result.watermark}, "
        f"{result.vehicles} vehicles\n"
    )
    return 0


def _report(out: Path) -> int:
    from cold_path.report import write_report
    from fleet.store import connect

    try:
        page = write_report(connect(), out)
    except (LookupError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stdout.write(f"report: {page}\n")
    return 0


def _score(truth: Path) -> int:
    from cold_path.score import MAX_ERROR, MIN_SPEARMAN, score
    from fleet.store import connect

    try:
        result = score(connect(), truth)
    except (LookupError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    out = sys.stdout
    out.write(f"batch version {result.version}: {len(result.vehicles)} vehicles in the truth\n")
    worst = sorted(result.vehicles, key=lambda v: -(v.relative_error or 0))[:5]
    for v in worst:
        err = "-" if v.relative_error is None else f"{v.relative_error:.2%}"
        est = "-" if v.estimated is None else f"{v.estimated:.3f}"
        out.write(f"  {v.vin}  estimated {est}  true {v.true:.3f}  error {err}\n")
    max_err, med = result.max_error, result.median_error
    rho = result.spearman
    out.write(
        f"max error {'-' if max_err is None else f'{max_err:.2%}'} (target <= {MAX_ERROR:.0%}), "
        f"median {'-' if med is None else f'{med:.2%}'}\n"
        f"ranking Spearman {'-' if rho is None else f'{rho:.4f}'} (target >= {MIN_SPEARMAN})\n"
    )
    agreed = result.routes_compared - len(result.route_disagreements)
    out.write(f"route recommendations: {agreed} of {result.routes_compared} pairs agree\n")
    for line in result.route_disagreements:
        out.write(f"  {line}\n")
    if result.missing:
        out.write(f"missing from the view: {', '.join(result.missing)}\n")
    out.write("targets met\n" if result.passed else "targets NOT met\n")
    return 0 if result.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
