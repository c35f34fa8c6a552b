"""``python -m cold_path archive|batch``: the cold path's two jobs."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from cold_path.config import ColdPathSettings
from fleet.config import KafkaSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cold_path", description=__doc__)
    cmds = parser.add_subparsers(dest="command", required=True)
    archive = cmds.add_parser("archive", help="consume as group cold-path into Parquet files")
    archive.add_argument(
        "--idle-exit", type=float, default=None, metavar="SECONDS",
        help="stop once nothing has arrived for this long (for bounded runs)",
    )  # fmt: skip
    cmds.add_parser("batch", help="recompute the batch views from the master dataset (Spark)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = ColdPathSettings()
    return _archive(settings, args.idle_exit) if args.command == "archive" else _batch(settings)


def _archive(settings: ColdPathSettings, idle_exit: float | None) -> int:
    from cold_path.archive import Archiver

    archiver = Archiver(settings, KafkaSettings())
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
    finally:
        spark.stop()
    for path, reason in result.excluded_files:
        sys.stderr.write(f"excluded unreadable file {path}: {reason}\n")
    sys.stderr.write(
        f"batch version {result.version}: {result.events} events up to {result.watermark}, "
        f"{result.vehicles} vehicles\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
