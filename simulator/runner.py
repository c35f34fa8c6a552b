"""The producer loop: pace the simulation against the wall clock and send its records.

Simulated time runs ``speedup`` times faster than the wall (``inf``: as fast as
the machine can); if generation falls behind, the loop sends without sleeping
and the summary shows the achieved speed-up. A stop request (SIGINT/SIGTERM)
ends the loop after the current batch; held-back records are sent and the
producer flushed either way.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from simulator.generator import Simulation
from simulator.transport import Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    sent: int
    acked: int
    failed: int
    unacked: int
    bytes_sent: int
    simulated_s: float
    wall_s: float
    interrupted: bool

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.unacked == 0 and self.acked == self.sent


def run(
    sim: Simulation,
    transport: Transport,
    *,
    speedup: float,
    stop: threading.Event,
    flush_timeout: float = 60.0,
    console: Console | None = None,
) -> RunResult:
    """Send every batch the simulation yields, paced at ``speedup``; then flush."""
    began = time.monotonic()
    progress = (
        Progress(
            TextColumn("[bold]simulating"),
            BarColumn(),
            TextColumn(
                "{task.fields[clock]}  sent {task.fields[sent]:,}  acked {task.fields[acked]:,}"
            ),  # fmt: skip
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        if console is not None
        else None
    )
    task = (
        progress.add_task("sim", total=sim.duration_s, clock="", sent=0, acked=0)
        if progress
        else TaskID(0)
    )
    if progress:
        progress.start()
    try:
        for batch in sim:
            transport.send(batch.records)
            if not math.isinf(speedup):
                due = began + batch.t / speedup
                while (wait := due - time.monotonic()) > 0 and not stop.is_set():
                    transport.poll(min(wait, 0.1))
            if progress:
                progress.update(task, completed=batch.t, clock=_clock(batch.t),
                                sent=transport.sent, acked=transport.acked)  # fmt: skip
            if stop.is_set():
                log.info("stop requested at simulated %s; flushing", _clock(batch.t))
                break
        transport.send(sim.drain())
    finally:
        if progress:
            progress.stop()
        unacked = transport.flush(flush_timeout)
        transport.close()
    return RunResult(
        sent=transport.sent,
        acked=transport.acked,
        failed=transport.failed,
        unacked=unacked,
        bytes_sent=transport.bytes_sent,
        simulated_s=sim.t,
        wall_s=time.monotonic() - began,
        interrupted=stop.is_set(),
    )


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
