"""Process-wide tuning that the worker and its view writer share."""

from __future__ import annotations

import gc
import logging
import os

log = logging.getLogger(__name__)


def tune_gc(threshold: int) -> None:
    """Fewer, cheaper garbage collections in a process that makes garbage fast.

    What a process has loaded when it calls this (Faust, pydantic's schemas,
    SQLAlchemy, the rules) lives as long as it does: frozen, the full
    collections no longer walk it. Only the youngest generation's threshold
    changes (Python's is 700 allocations); the older two keep Python's.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)


def run_below(nice: int, *, idle: bool) -> None:
    """Give this process's CPU up to the worker: ``nice`` and, on Linux, ``SCHED_IDLE``.

    A task at nice 19 still takes its turns: in the scale-out benchmark two
    such writers ran 0.15-0.20 of the two cores while the workers' event
    loops waited in the run queue 16-25 % of the time. Under ``SCHED_IDLE``
    the kernel switches to a normal task as soon as one wakes on its core, and
    the writer runs on what nobody else wants (docs/hot_path.md, "Sixth round").
    """
    os.nice(nice)
    if not idle:
        return
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError) as exc:  # not Linux, or refused: nice alone
        log.warning("could not run under SCHED_IDLE (%s): nice %d only", exc, nice)
