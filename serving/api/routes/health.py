"""``GET /healthz``: the serving store answers."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from serving.api.deps import STORE_DOWN, StoreDep

router = APIRouter(tags=["health"])
_PING = text("SELECT 1")


class Health(BaseModel):
    status: str
    store: str


@router.get("/healthz", response_model=Health, responses=STORE_DOWN)
async def healthz(store: StoreDep) -> Health:
    """``ok`` and the store's dialect; 503 when the store does not answer."""
    await store.run(lambda conn: conn.execute(_PING).close())
    return Health(status="ok", store=store.engine.dialect.name)
