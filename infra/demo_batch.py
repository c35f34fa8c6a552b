"""The demo's batch schedule: ``cold_path batch``, then ``cold_path report``, a pause, again."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from infra.demo_config import DemoSettings
from infra.demo_procs import ComponentDied, Proc, exit_text

BATCH_LINE = re.compile(r"batch version (\d+): (\d+) events up to ([^,]+), (\d+) vehicles")
REPORT_NAME = re.compile(r"^demo-\d{8}-\d{6}$")


@dataclass(frozen=True)
class BatchRun:
    version: int
    watermark: str
    events: int
    seconds: float
    finished: float
    """``time.monotonic()`` when it ended."""


class BatchSchedule:
    """Runs the batch once the archiver has written a file in this run, a report after
    each batch, and the next batch ``DEMO_BATCH_EVERY_S`` after that report.

    A pause rather than a period: a run takes from under a minute to over three
    on two busy cores, and runs must not pile up. Both jobs run at nice 10, so
    the hot path keeps the CPU it needs for live alerts.
    """

    def __init__(
        self,
        settings: DemoSettings,
        *,
        logs: Path,
        reports: Path,
        env: Callable[[], dict[str, str]],
        archived: Callable[[], bool],
        out: Console,
    ) -> None:
        self.s, self.logs, self.reports, self.env = settings, logs, reports, env
        self.archived, self.out = archived, out
        self.batch: Proc | None = None
        self.report: Proc | None = None
        self.started = 0.0
        self.next_at: float | None = None
        self.runs: list[BatchRun] = []
        self.reports_written = 0

    def running(self) -> list[Proc]:
        return [p for p in (self.batch, self.report) if p is not None]

    def tick(self, now: float) -> None:
        """Advance the schedule; a failed or overlong run raises ComponentDied."""
        if self.batch is not None:
            rc = self.batch.returncode()
            if rc is None:
                if now - self.started > self.s.batch_timeout_s:
                    self.batch.stop(5)
                    raise ComponentDied(
                        "batch",
                        f"ran longer than DEMO_BATCH_TIMEOUT_S={self.s.batch_timeout_s:.0f}s",
                        self.batch.log, self.batch.tail(), self.batch.hint,
                    )  # fmt: skip
                return
            self._batch_done(rc, now)
        if self.report is not None:
            rc = self.report.returncode()
            if rc is None:
                return
            proc, self.report = self.report, None
            if rc != 0:
                raise ComponentDied("report", exit_text(rc), proc.log, proc.tail(), proc.hint)
            self.reports_written += 1
            self._prune_reports()
            self.next_at = now + self.s.batch_every_s
        if self.next_at is None:
            if self.archived():
                self.next_at = now
            return
        if now >= self.next_at:
            self.batch = Proc(
                "batch", ["cold_path", "batch"], self.logs / "batch.log",
                "run `python -m cold_path batch` alone to see the Spark error",
            )  # fmt: skip
            self.batch.start(self.env(), nice=10)
            self.started = now

    def _batch_done(self, rc: int, now: float) -> None:
        assert self.batch is not None
        proc, self.batch = self.batch, None
        if rc != 0:
            raise ComponentDied("batch", exit_text(rc), proc.log, proc.tail(), proc.hint)
        found = BATCH_LINE.findall(proc.new_output())
        if not found:
            raise ComponentDied(
                "batch", "exited 0 without saying which version it published", proc.log,
                proc.tail(), proc.hint,
            )  # fmt: skip
        version, events, mark, _ = found[-1]
        run = BatchRun(int(version), mark, int(events), now - self.started, now)
        self.runs.append(run)
        self.out.print(
            f"  batch run {len(self.runs)}: version {version}, {events} events up to "
            f"{mark} ({run.seconds:.0f}s)",
            highlight=False,
        )
        name = datetime.now(UTC).strftime("demo-%Y%m%d-%H%M%S")
        self.report = Proc(
            "report", ["cold_path", "report", "--out", str(self.reports / name)],
            self.logs / "report.log", "run `python -m cold_path report --out DIR` alone",
        )  # fmt: skip
        self.report.start(self.env(), nice=10)

    def _prune_reports(self) -> None:
        """Keep the newest ``DEMO_KEEP_REPORTS`` of the demo's own reports, touch no other."""
        ours = sorted(
            (d for d in self.reports.iterdir() if d.is_dir() and REPORT_NAME.match(d.name)),
            key=lambda d: d.name,
        )
        for old in ours[: -self.s.keep_reports]:
            shutil.rmtree(old, ignore_errors=True)

    def status(self) -> str:
        if self.batch is not None:
            return f"run {len(self.runs) + 1} running"
        if self.runs:
            b = self.runs[-1]
            return f"version {b.version}, watermark {b.watermark} ({b.seconds:.0f}s)"
        return "waiting for this run's first Parquet files"
