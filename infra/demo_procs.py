"""The demo's child processes: each in its own process group, with a log file of its own.

A process group per component lets the demo stop a component together with
whatever it started (the Spark JVM under ``cold_path batch``), and keeps a
Ctrl-C in the terminal from reaching the children directly: the demo stops
them itself, in order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from fleet.config import REPO_ROOT


class ComponentDied(Exception):
    """A component exited, or never became ready: which, why, its log and what to do."""

    def __init__(self, name: str, why: str, log: Path | None, tail: str, next_step: str) -> None:
        super().__init__(f"{name} {why}")
        self.name, self.why, self.log, self.tail, self.next_step = name, why, log, tail, next_step


def exit_text(rc: int) -> str:
    if rc < 0:
        return f"was killed by {signal.Signals(-rc).name}"
    return f"exited with code {rc}"


@dataclass
class Proc:
    """One component run as ``python -m ...``, logging to ``log``."""

    name: str
    args: list[str]
    log: Path
    hint: str
    """What to do when it dies, beyond reading its log."""
    stop_signal: int = signal.SIGTERM
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    stopping: bool = False
    exited_ok_is_fine: bool = False
    """Exit code 0 is not a failure (the simulator at the end of its run, a batch job)."""
    _log_offset: int = field(default=0, repr=False)

    @property
    def command(self) -> str:
        return "python -m " + " ".join(self.args)

    def start(self, env: dict[str, str], *, nice: int = 0) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self._log_offset = out.tell()
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            out.write(f"\n=== {stamp} demo: {self.command}\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                [sys.executable, "-m", *self.args],
                cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.started_at = time.monotonic()
        self.stopping = False
        if nice:
            try:
                psutil.Process(self.popen.pid).nice(nice)
            except psutil.Error:
                pass  # only a courtesy to the latency-sensitive components

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def returncode(self) -> int | None:
        """None while it runs (or was never started), else its exit code."""
        return None if self.popen is None else self.popen.poll()

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def group_alive(self) -> bool:
        """Whether any process of its group is left (the leader may be gone already)."""
        if self.popen is None:
            return False
        self.popen.poll()
        try:
            os.killpg(self.popen.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def signal_group(self, sig: int) -> None:
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, grace: float) -> str:
        """Stop the whole group: its own signal, SIGKILL after ``grace``; says how it ended."""
        if self.popen is None:
            return "not started"
        self.stopping = True
        if not self.group_alive():
            return f"had exited ({self.popen.returncode})"
        self.signal_group(self.stop_signal)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self.group_alive():
            time.sleep(0.1)
        if not self.group_alive():
            return "stopped"
        self.signal_group(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.group_alive():
            time.sleep(0.1)
        return f"killed after {grace:.0f}s" if not self.group_alive() else "could not be killed"

    def new_output(self) -> str:
        """What it logged since it was last started."""
        try:
            with self.log.open("rb") as fh:
                fh.seek(self._log_offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 25) -> str:
        """Its last lines since it was started (read from the end: logs of long runs are big)."""
        try:
            with self.log.open("rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(self._log_offset, size - 256 * 1024))
                text = fh.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip("\n").splitlines()[-lines:])
