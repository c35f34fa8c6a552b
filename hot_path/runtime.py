"""Process-wide tuning that the worker and its view writer share."""

from __future__ import annotations

import gc


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
