"""More requests in flight than the store's pool has connections: every one is answered.

Before the bound (docs/serving.md, "Concurrency"), a request took a pooled connection in one
worker thread and held it while waiting for the next; with more requests in flight than
connections, every thread ended up blocked in the pool and the API answered 503 after the
pool's timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine

from fleet.config import KafkaSettings
from fleet.store import connect
from serving.api.deps import store_concurrency
from serving.config import ServingSettings
from serving.main import create_app
from tests.unit.serving.rows import VIN_A, VIN_B, VIN_C, VIN_D, populate

PATHS = [
    *(f"/vehicles/{vin}" for vin in (VIN_A, VIN_B, VIN_C, VIN_D)),
    "/alerts?status=open",
    "/vehicles?limit=2",
    "/fleet/efficiency",
    "/routes/recommendations",
    "/healthz",
]


@pytest.fixture
def small_pool(store_url: str) -> Iterator[Engine]:
    """The store behind an engine of one pooled connection (and one overflow) that gives up
    waiting for a connection after 2 s."""
    populate(made := connect(store_url))
    made.dispose()
    engine = create_engine(store_url, pool_size=1, max_overflow=1, pool_timeout=2)
    yield engine
    engine.dispose()


async def _get_all(app: object, paths: list[str]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://serving") as client:
        return await asyncio.gather(*(client.get(path) for path in paths))


def test_100_concurrent_requests_on_a_one_connection_pool_all_succeed(
    small_pool: Engine, tmp_path: Path
) -> None:
    # Asks for more requests at once than the pool has connections: the pool bounds it.
    settings = ServingSettings(reports_dir=tmp_path / "reports", store_concurrency=8)
    app = create_app(settings, engine=small_pool, kafka=KafkaSettings())
    assert app.state.store.limiter.total_tokens == 1
    expected = {path: asyncio.run(_get_all(app, [path]))[0].json() for path in PATHS}
    assert all(expected.values())

    paths = [PATHS[i % len(PATHS)] for i in range(100)]
    answers = asyncio.run(_get_all(app, paths))

    statuses = [r.status_code for r in answers]
    assert statuses == [200] * 100, f"not all answered 200: {sorted(set(statuses))}"
    for path, answer in zip(paths, answers, strict=True):
        assert answer.json() == expected[path], path


def test_store_concurrency_defaults_to_two_on_sqlite_and_the_pool_on_a_server(
    tmp_path: Path,
) -> None:
    sqlite = create_engine(f"sqlite:///{tmp_path / 'serving.db'}", pool_size=5)
    server = create_engine("postgresql+psycopg://fleet@127.0.0.1:1/fleet", pool_size=7)
    assert (store_concurrency(sqlite), store_concurrency(server)) == (2, 7)  # no connection made
    assert (store_concurrency(sqlite, 4), store_concurrency(server, 3)) == (4, 3)
    assert store_concurrency(server, 50) == 7
