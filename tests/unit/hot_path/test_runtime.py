"""What the worker and its view writer set for their process at start-up: the garbage
collector's tuning, and the writer's place below the worker (nice, ``SCHED_IDLE``)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from collections.abc import Iterator

import pytest

from hot_path.config import HotPathSettings
from hot_path.runtime import tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)
    if enabled:
        gc.enable()


@pytest.mark.usefixtures("restored_gc")
def test_the_setting_sets_the_youngest_threshold_and_keeps_the_older_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOT_GC_THRESHOLD", "25000")
    _, older, oldest = gc.get_threshold()
    tune_gc(HotPathSettings().gc_threshold)
    assert gc.get_threshold() == (25000, older, oldest)


@pytest.mark.usefixtures("restored_gc")
def test_what_is_loaded_at_start_up_is_left_out_of_later_collections() -> None:
    held = [[f"car {i}"] for i in range(1000)]  # lives on, like the loaded modules
    tune_gc(10_000)
    collected = {id(obj) for obj in gc.get_objects()}  # every generation; frozen ones are not
    assert all(gc.is_tracked(obj) and id(obj) not in collected for obj in held)


class _Node:
    me: object = None


@pytest.mark.usefixtures("restored_gc")
def test_garbage_of_the_start_up_is_collected_not_frozen_for_good() -> None:
    gc.disable()  # no collection of its own in between
    cycle = _Node()
    cycle.me = cycle  # only a collection frees it
    gone = weakref.ref(cycle)
    del cycle
    tune_gc(10_000)
    assert gone() is None


def test_a_threshold_below_pythons_own_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOT_GC_THRESHOLD", "10")
    with pytest.raises(ValueError, match="gc_threshold"):
        HotPathSettings()


def _scheduling_after(call: str) -> tuple[int, int]:
    """(scheduling policy, nice) of a fresh interpreter after ``call`` (it cannot be undone)."""
    code = ("import os; from hot_path.runtime import run_below; " + call +
            "; print(os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    policy, nice = out.stdout.split()
    return int(policy), int(nice)


def test_the_writer_runs_idle_and_at_its_nice() -> None:
    assert _scheduling_after("run_below(19, idle=True)") == (os.SCHED_IDLE, 19)


def test_without_idle_only_the_nice_changes() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)  # 0, unless the tests themselves run niced
    assert _scheduling_after("run_below(7, idle=False)") == (os.SCHED_OTHER, min(base + 7, 19))
