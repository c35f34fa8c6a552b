"""Command-line flags: each overrides its ``SIM_`` setting."""

from __future__ import annotations

import argparse
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from simulator.config import SimSettings
from simulator.errors import SimulatorError
from simulator.faults import DEFAULT_RATE


def _speedup(text: str) -> float:
    return math.inf if text.lower() in ("max", "inf") else float(text)


def _start(text: str) -> datetime:
    if text == "now":
        return datetime.now(UTC).replace(microsecond=0)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-01-05T05:00:00Z")
    return moment


class _OneLineParser(argparse.ArgumentParser):
    """Usage mistakes as one ``error:`` line (``--help`` has the rest)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    p = _OneLineParser(
        prog="python -m simulator",
        description="Simulate a fleet of connected cars and produce their telemetry to Kafka, "
        "keyed by VIN, writing the ground truth (faults, fuel, routes) to --truth-out.",
    )
    a = p.add_argument
    a("--cars", type=int, help="number of cars (default 100)")
    a("--hz", type=float, help="records per car per simulated second (default 1; 0.1 to 10)")
    a(
        "--speedup",
        type=_speedup,
        help="simulated seconds per wall second, or 'max' for as fast as possible (default 1)",
    )
    a("--duration", type=float, help="simulated seconds to run (default 3600)")
    a("--seed", type=int, help="random seed: the same seed gives the same records and truth")
    a(
        "--start",
        type=_start,
        help="event time of the first record, ISO-8601 with zone or "
        "'now' (default: 2026-01-05T05:00:00Z with --seed, now without)",
    )
    a(
        "--truth-out",
        type=Path,
        metavar="DIR",
        help="write faults.jsonl, vehicles.jsonl, routes.jsonl and run.json here",
    )
    a(
        "--fault-rate",
        type=float,
        help=f"faults per car per simulated hour; 0 turns them off (default {DEFAULT_RATE})",
    )
    a("--topic", help="Kafka topic (default fleet.telemetry)")
    a(
        "--to",
        choices=("kafka", "http", "mqtt"),
        help="kafka (default): produce directly; http or mqtt: send through the ingest "
        "gateway (python -m ingest) or Mosquitto and its bridge, one issued credential per car",
    )
    a("--gateway-url", help="the HTTP gateway for --to http (default http://127.0.0.1:8001)")
    a("--mqtt-port", type=int, help="Mosquitto's port on --mqtt-host for --to mqtt (default 1883)")
    a("--mqtt-host", help="Mosquitto's host for --to mqtt (default 127.0.0.1)")
    a(
        "--output",
        type=Path,
        metavar="FILE",
        help="write JSON lines to FILE instead of Kafka (/dev/null to time generation alone)",
    )
    a("--late-rate", type=float, help="fraction of records delivered 1-15 simulated min late")
    a("--duplicate-rate", type=float, help="fraction of records sent twice")
    a("--reorder-rate", type=float, help="fraction of records overtaken by the car's next one")
    a(
        "--malformed-rate",
        type=float,
        help="fraction of records followed by a broken copy (bad JSON, wrong type, NaN, "
        "out of range, unknown field)",
    )
    a(
        "--no-progress",
        dest="progress",
        action="store_const",
        const=False,
        help="no progress display",
    )
    a("--flush-timeout", type=float, help="seconds to wait for acknowledgements at the end")
    a(
        "--connect-timeout",
        type=float,
        help="seconds to wait for the broker before giving up (default 10)",
    )
    a("-v", "--verbose", action="store_true", help="log at debug level")
    return p  # fmt: skip


def settings_from(args: argparse.Namespace) -> SimSettings:
    """Environment settings with the given flags on top; bad values raise SimulatorError."""
    flags: dict[str, Any] = {
        k: v for k, v in vars(args).items() if v is not None and k not in ("verbose",)
    }
    try:
        settings = SimSettings(**flags)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        name = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "settings"
        raise SimulatorError(f"{name}: {first['msg']} (got {first.get('input')!r})") from None
    if settings.truth_out is not None:
        _check_writable(settings.truth_out)
    return settings


def _check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SimulatorError(f"--truth-out: cannot write to {directory}: {exc.strerror}") from None
