"""The serving benchmark measures what it says: the store it seeds, its percentiles, open loop."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import uvloop
from sqlalchemy import Engine, func, select

from bench.serving import (
    Run,
    Seeded,
    _request_bytes,
    closed_loop,
    open_loop,
    percentile,
    seed_store,
)
from fleet.store import connect, speed_increments
from serving.queries.alerts import list_alerts
from serving.queries.vehicles import VehicleSort, list_vehicles, merged_vehicles, vehicle_state
from serving.queries.view import current_view

NOW = datetime(2026, 3, 2, 9, 30, 20, tzinfo=UTC)
CARS = 10_000


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Seeded]]:
    # The benchmark's fleet size; fewer minutes of buckets and days of alerts keep it quick.
    engine = connect(f"sqlite:///{tmp_path_factory.mktemp('bench') / 'serving.db'}")
    yield engine, seed_store(engine, cars=CARS, now=NOW, speed_minutes=3, alert_days=1.0)
    engine.dispose()


def test_every_seeded_car_is_answered_from_both_layers(seeded: tuple[Engine, Seeded]) -> None:
    engine, s = seeded
    assert len(set(s.vins)) == CARS
    with engine.connect() as conn:
        view = current_view(conn, bucket_s=60)
        assert (view.version, view.watermark, view.aligned) == (s.version, s.watermark, True)
        assert s.watermark == datetime(2026, 3, 2, 9, 10, tzinfo=UTC)  # 20 min before NOW
        cars = merged_vehicles(conn, view=view)
        assert {c.vin for c in cars} == set(s.vins)
        assert all(c.merged.layers == ("batch", "speed") for c in cars)
        assert all(c.vehicle_class is not None and c.merged.l_per_100km for c in cars)
        total, _ = list_vehicles(conn, view=view, vehicle_class=None, sort=VehicleSort.VIN,
                                 limit=1, offset=0)  # fmt: skip
        assert total == CARS
        for vin in random.Random(3).sample(s.vins, 50):
            state = vehicle_state(conn, vin=vin)
            assert state is not None and state["event_time"] == NOW - timedelta(seconds=15)
        buckets = conn.execute(select(func.count()).select_from(speed_increments)).scalar_one()
    assert buckets == s.buckets >= CARS * 3


def test_seeded_alerts_are_some_open_most_resolved(seeded: tuple[Engine, Seeded]) -> None:
    engine, s = seeded
    with engine.connect() as conn:
        opened, page = list_alerts(conn, status="open", limit=50)
        resolved, _ = list_alerts(conn, status="resolved", limit=1)
    assert (opened, resolved) == (s.open_alerts, s.resolved_alerts)
    # The simulator's fault rate (0.05 per car and hour) over a day, each open ~2 h on average.
    assert 9_000 < opened + resolved < 15_000
    assert 0.02 < opened / (opened + resolved) < 0.2
    assert page[0]["severity"] == "critical" and all(a["status"] == "open" for a in page)


def test_percentile_is_the_nearest_rank() -> None:
    hundred = [float(i) for i in range(1, 101)]
    assert (percentile(hundred, 50), percentile(hundred, 99), percentile(hundred, 100)) == (
        50.0,
        99.0,
        100.0,
    )
    assert percentile([float(i) for i in range(1, 1001)], 99) == 990.0
    assert percentile([7.0], 99) == 7.0
    sample = sorted(np.random.default_rng(5).exponential(3.0, 997).tolist())
    for q in (1, 25, 50, 90, 99, 99.9):
        assert percentile(sample, q) == np.percentile(sample, q, method="inverted_cdf")
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


def test_a_timed_out_request_counts_as_slower_than_any_answer() -> None:
    run = Run("x", "open", 100.0, 1.0, latencies=[i / 1000 for i in range(1, 100)], timeouts=1)
    assert run.p(99) == pytest.approx(0.099)
    assert math.isinf(run.p(100))
    run.timeouts = 2
    assert math.isinf(run.p(99))


async def _slow_server(delay: float) -> tuple[asyncio.Server, int]:
    """Answers one request at a time per connection, each after ``delay`` seconds."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            await asyncio.sleep(delay)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_open_loop_counts_queueing_from_the_scheduled_time() -> None:
    # 100 requests/s offered for 0.5 s on one connection to a server taking 20 ms each:
    # it answers 50/s at most, so the last requests wait about half a second for the
    # connection. A generator timing from the send would report ~20 ms throughout.
    async def measure() -> tuple[Run, Run]:
        server, port = await _slow_server(0.02)
        async with server:
            request = [_request_bytes("/")]
            opened = await open_loop(port, request, rate=100, seconds=0.5, connections=1)
            closed = await closed_loop(port, request, concurrency=1, seconds=0.3)
        return opened, closed

    opened, closed = uvloop.run(measure())
    assert (len(opened.latencies), opened.errors, opened.timeouts) == (50, 0, 0)
    assert closed.p(50) >= 0.02  # each answer takes the server's 20 ms
    last_due, last_answered = 0.49, 50 * 0.02  # the server cannot answer the 50th sooner
    assert opened.p(100) >= last_answered - last_due
    assert opened.p(100) > 10 * closed.p(50)
    assert opened.rate <= 1 / 0.02 * 1.05  # answered no faster than the server can


def test_alert_totals_are_exact_on_every_page(seeded: tuple[Engine, Seeded]) -> None:
    # list_alerts counts only when the page cannot tell the total (full, or past the end).
    engine, s = seeded
    n = s.open_alerts
    pages = [(50, 0), (n + 5, 0), (50, n - 8), (50, n), (50, n + 100), (n, 0)]
    with engine.connect() as conn:
        for limit, offset in pages:
            total, rows = list_alerts(conn, status="open", limit=limit, offset=offset)
            assert total == n, (limit, offset)
            assert len(rows) == max(0, min(limit, n - offset))
        vin = list_alerts(conn, status="open", limit=1)[1][0]["vin"]
        total, rows = list_alerts(conn, status="open", vin=vin, limit=1000)
        assert total == len(rows) >= 1 and all(r["vin"] == vin for r in rows)
