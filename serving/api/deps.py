"""Dependencies the routes declare through `Annotated` aliases, and the parameters and error
responses several routes share."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from anyio import CapacityLimiter, to_thread
from fastapi import Depends, HTTPException, Query, Request
from pydantic import BeforeValidator
from sqlalchemy import Connection, Engine, QueuePool, StaticPool
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from fleet.config import KafkaSettings
from fleet.telemetry import SHORT_TEXT_PATTERN
from serving.config import MAX_PAGE_SIZE, ServingSettings
from serving.models import Problem
from serving.queries.view import View, current_view

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_AFTER_S = 5
"""What a 503 asks a client to wait before it tries again."""

NAME_PATTERN = SHORT_TEXT_PATTERN
"""Vehicle classes and zone names: the short words `fleet.telemetry.ShortText` allows. Anything
else can match no stored row, and some characters (NUL) PostgreSQL refuses outright."""

STORE_DOWN: dict[int | str, dict[str, Any]] = {
    503: {
        "model": Problem,
        "description": "the serving store does not answer; retry after `Retry-After` seconds",
    }
}
"""The response every route that reads the store can give (`APIRouter(responses=...)`)."""

INTEGER = re.compile(r"-?[0-9]+")


def _digits_only(value: object) -> object:
    """A query integer is its digits: pydantic alone reads ``4\\x0c`` or `` 4`` as 4."""
    if isinstance(value, str) and not INTEGER.fullmatch(value):
        raise ValueError("Input should be a valid integer, in digits without spaces")
    return value


Limit = Annotated[
    int,
    Query(ge=1, le=MAX_PAGE_SIZE, description=f"page size, 1 to {MAX_PAGE_SIZE}"),
    BeforeValidator(_digits_only),
]
Offset = Annotated[
    int, Query(ge=0, le=10_000_000, description="items to skip"), BeforeValidator(_digits_only)
]


def store_unavailable(exc: Exception, engine: Engine) -> HTTPException:
    """The 503 for a store that does not answer, with the driver's reason in one line."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = reason[0] if reason else type(exc).__name__
    log.warning("serving store (%s) unavailable: %s", engine.dialect.name, first)
    return HTTPException(
        status_code=503,
        detail=f"the serving store ({engine.dialect.name}) does not answer: {first}. "
        "Retry later; if it persists, check that the database DATABASE_URL names is up.",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def is_store_down(exc: Exception) -> bool:
    """Connection refused or lost, database locked, pool exhausted: worth a retry (503)."""
    if isinstance(exc, OperationalError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


UNBOUNDED_POOL_THREADS = 40
"""In-flight store work for a pool without a fixed size (`NullPool`): anyio's thread count."""


def pool_capacity(engine: Engine) -> int:
    """How many connections ``engine``'s pool keeps open (``pool_size``). Its overflow stays
    free for what runs outside the bound (the `/live` poller) and is never opened and closed
    again and again by the API's own load."""
    pool = engine.pool
    if isinstance(pool, QueuePool):
        return max(1, pool.size())
    if isinstance(pool, StaticPool):
        return 1  # one shared connection
    return UNBOUNDED_POOL_THREADS


SQLITE_CONCURRENCY = 2
"""Requests reading a SQLite store at once. Such a read is Python and a local file, all CPU
under one GIL: more threads only contend for it (measured, docs/benchmarks.md, "Serving"),
while two let a slow request (a whole-fleet list) leave a lane to the quick ones."""


def store_concurrency(engine: Engine, setting: int | None = None) -> int:
    """How many requests may work on the store at once: ``setting``
    (``SERVING_STORE_CONCURRENCY``) or, by default, `SQLITE_CONCURRENCY` on SQLite and the
    pool's size on a database server (where a request mostly waits for the network); never
    more than the pool holds."""
    if setting is None:
        setting = SQLITE_CONCURRENCY if engine.dialect.name == "sqlite" else pool_capacity(engine)
    return max(1, min(setting, pool_capacity(engine)))


class Store:
    """The serving store as the routes use it: each request's database work runs in one
    worker thread on one pooled connection, and no more requests do so at once than
    `store_concurrency` allows, at most the pool's connections (docs/serving.md,
    "Concurrency").

    A request over that bound waits in the event loop for a slot, holding neither a thread
    nor a connection; so the pool is never exhausted by the API itself and nothing waits out
    the pool's timeout while other requests hold connections and wait for a thread.
    """

    def __init__(self, engine: Engine, *, bucket_s: int, concurrency: int | None = None) -> None:
        self.engine, self.bucket_s = engine, bucket_s
        self.limiter = CapacityLimiter(store_concurrency(engine, concurrency))

    async def run(self, work: Callable[[Connection], T]) -> T:
        """``work(conn)`` in a worker thread; a store that does not answer is a 503."""
        return await to_thread.run_sync(self._call, work, limiter=self.limiter)

    async def read(self, work: Callable[[Connection, View], T]) -> T:
        """``work(conn, view)`` with the batch view read first on the same connection: the
        version and merge boundary the whole answer uses."""
        return await self.run(lambda conn: work(conn, self.view(conn)))

    def view(self, conn: Connection) -> View:
        return current_view(conn, bucket_s=self.bucket_s)

    def _call(self, work: Callable[[Connection], T]) -> T:
        try:
            with self.engine.connect() as conn:
                return work(conn)
        except Exception as exc:
            if is_store_down(exc):
                raise store_unavailable(exc, self.engine) from None
            raise


async def get_engine(request: Request) -> Engine:
    # `async def`: a dependency that only reads app.state must not cost a thread hop.
    engine: Engine = request.app.state.engine
    return engine


async def get_settings(request: Request) -> ServingSettings:
    settings: ServingSettings = request.app.state.settings
    return settings


async def get_kafka(request: Request) -> KafkaSettings:
    kafka: KafkaSettings = request.app.state.kafka
    return kafka


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[ServingSettings, Depends(get_settings)]
KafkaDep = Annotated[KafkaSettings, Depends(get_kafka)]
StoreDep = Annotated[Store, Depends(get_store)]
