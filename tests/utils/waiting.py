"""Waiting in a test for something another thread or process does."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(done: Callable[[], bool], what: str, timeout: float, every: float = 0.1) -> None:
    """Until ``done()``; fails the test, naming ``what``, once ``timeout`` seconds went by."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        time.sleep(every)
