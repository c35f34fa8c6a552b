from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from fleet.store import connect


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """An empty serving store, once on SQLite and once on PostgreSQL (``store_url``)."""
    eng = connect(store_url)
    yield eng
    eng.dispose()
