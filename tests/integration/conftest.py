"""Fixtures the serving layer's integration modules share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from fleet.store import connect


@pytest.fixture
def engine(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The serving store on SQLite and on PostgreSQL (``store_url`` runs each test on both)."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path))  # no cluster record of the real data dir
    eng = connect(store_url)
    yield eng
    eng.dispose()
