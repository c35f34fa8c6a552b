"""``GET /healthz``: the serving store answers."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from serving.api.deps import STORE_DOWN, EngineDep, is_store_down, store_unavailable

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    store: str


@router.get("/healthz", response_model=Health, responses=STORE_DOWN)
def healthz(engine: EngineDep) -> Health:
    """``ok`` and the store's dialect; 503 when the store does not answer."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        if is_store_down(exc):
            raise store_unavailable(exc, engine) from None
        raise
    return Health(status="ok", store=engine.dialect.name)
