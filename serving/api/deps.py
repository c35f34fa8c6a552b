"""Dependencies the routes declare through `Annotated` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine

from fleet.config import KafkaSettings
from serving.config import ServingSettings
from serving.queries.view import View, current_view


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
    with engine.connect() as conn:
        yield conn


ConnDep = Annotated[Connection, Depends(get_conn)]


def get_view(conn: ConnDep, settings: SettingsDep) -> View:
    """The batch version and merge boundary, read once per request."""
    return current_view(conn, bucket_s=settings.speed_bucket_s)


ViewDep = Annotated[View, Depends(get_view)]
