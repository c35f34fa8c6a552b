"""``python -m cold_path archive``: land fleet.telemetry in the master dataset."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from cold_path.archive import Archiver
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
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    archiver = Archiver(ColdPathSettings(), KafkaSettings())
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: archiver.stop())
    stats = archiver.run(idle_exit_s=args.idle_exit)
    sys.stderr.write(
        f"archived {stats.records} records ({stats.invalid} failed the contract, "
        f"{stats.skipped} already archived) in {stats.files} files under {archiver.master}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
