"""Dependencies the routes declare through `Annotated` aliases, and the parameters and error
responses several routes share."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from fleet.config import KafkaSettings
from fleet.telemetry import SHORT_TEXT_PATTERN
from serving.config import MAX_PAGE_SIZE, ServingSettings
from serving.models import Problem
from serving.queries.view import View, current_view

log = logging.getLogger(__name__)

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

Limit = Annotated[
    int,
    Query(ge=1, le=MAX_PAGE_SIZE, description=f"page size, 1 to {MAX_PAGE_SIZE}"),
]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")]


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


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> ServingSettings:
    settings: ServingSettings = request.app.state.settings
    return settings


def get_kafka(request: Request) -> KafkaSettings:
    kafka: KafkaSettings = request.app.state.kafka
    return kafka


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[ServingSettings, Depends(get_settings)]
KafkaDep = Annotated[KafkaSettings, Depends(get_kafka)]


def get_conn(engine: EngineDep) -> Iterator[Connection]:
    """A connection for the request; a store that does not answer is a 503, not a 500."""
    try:
        conn = engine.connect()
    except Exception as exc:
        if is_store_down(exc):
            raise store_unavailable(exc, engine) from None
        raise
    with conn:
        try:
            yield conn
        except Exception as exc:
            if is_store_down(exc):
                raise store_unavailable(exc, engine) from None
            raise


ConnDep = Annotated[Connection, Depends(get_conn)]


def get_view(conn: ConnDep, settings: SettingsDep) -> View:
    """The batch version and merge boundary, read once per request."""
    return current_view(conn, bucket_s=settings.speed_bucket_s)


ViewDep = Annotated[View, Depends(get_view)]
