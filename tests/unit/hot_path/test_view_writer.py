"""The view writer's hand-over at a rebalance, on a real store (no Kafka: the callbacks alone).

Kafka side of it, with a broker: tests/integration/test_view_writer.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from fleet.store import connect, speed_increments
from fleet.telemetry import encode_event
from hot_path.config import HotPathSettings
from hot_path.speed_store import SpeedStore
from hot_path.view_writer import ViewWriter
from tests.unit.hot_path.readings import reading

TOPIC = "telemetry"


def test_a_batch_that_cannot_be_written_at_a_revocation_is_dropped_not_written_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'serving.db'}")
    store = SpeedStore(engine, group_id="views", topic=TOPIC, bucket_s=60)
    writer = ViewWriter(HotPathSettings(telemetry_topic=TOPIC), store, consumer=None)
    records = [(TOPIC, 0, s, encode_event(reading(s))) for s in range(3)]
    writer.handle(records, datetime.now(UTC))
    written = store.flush

    def database_down(now: datetime | None = None) -> int:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(store, "flush", database_down)
    writer.on_revoke(None, [])  # the partitions go to another writer; the write fails
    monkeypatch.setattr(store, "flush", written)  # the database is back
    writer.on_assign(None, [])
    assert writer.flush(commit=False)

    # Nothing of the dropped batch reached the store, and the offsets did not move: the
    # partition's next owner reads those records again from its commit and counts them.
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(speed_increments)).scalar() == 0
    assert store.next_offsets == {}
    assert writer.stats.flush_errors == 1

    # Read again here (the partition came back): counted once.
    writer.handle(records, datetime.now(UTC))
    assert writer.flush(commit=False)
    with engine.connect() as conn:
        assert conn.execute(select(func.sum(speed_increments.c.records))).scalar() == 3
