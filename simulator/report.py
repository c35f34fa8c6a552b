"""The end-of-run summary, for the person at the terminal and for ``run.json``."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table

from simulator.config import SimSettings
from simulator.generator import Simulation
from simulator.runner import RunResult


def run_record(
    settings: SimSettings, seed: int, sim: Simulation, result: RunResult
) -> dict[str, Any]:
    """What ``run.json`` says about the run besides the truth itself."""
    return {
        "seed": seed,
        "cars": settings.cars,
        "hz": settings.hz,
        "duration_s": settings.duration,
        "simulated_s": round(result.simulated_s, 3),
        "speedup": None if math.isinf(settings.speedup) else settings.speedup,
        "fault_rate": settings.fault_rate,
        "topic": None if settings.output else settings.topic,
        "records_generated": sim.sent,
        "records_sent": result.sent,
        "records_acknowledged": result.acked,
        "interrupted": result.interrupted,
    }


def summary_table(settings: SimSettings, result: RunResult) -> Table:
    wall = max(result.wall_s, 1e-9)
    table = Table(title="simulator run", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    where = str(settings.output) if settings.output else f"Kafka topic {settings.topic}"
    rows = [
        ("destination", where),
        ("cars", f"{settings.cars:,}"),
        ("simulated", f"{result.simulated_s:,.0f} s in {result.wall_s:,.1f} s wall "
                      f"(x{result.simulated_s / wall:,.1f})"),
        ("sent", f"{result.sent:,}"),
        ("acknowledged", f"{result.acked:,}"),
        ("failed", f"{result.failed:,}"),
        ("unacknowledged at exit", f"{result.unacked:,}"),
        ("records/s", f"{result.sent / wall:,.0f}"),
        ("MB/s", f"{result.bytes_sent / wall / 1e6:,.2f}"),
    ]  # fmt: skip
    if result.interrupted:
        rows.append(("stopped early", "yes (signal)"))
    if settings.truth_out:
        rows.append(("truth", str(settings.truth_out)))
    for name, value in rows:
        table.add_row(name, value)
    return table
