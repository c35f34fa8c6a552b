"""``GET /healthz``: the serving store answers."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from serving.api.deps import EngineDep

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/healthz", responses={503: {"description": "the store does not answer"}})
def healthz(engine: EngineDep) -> dict[str, str]:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("store unreachable: %s", exc)
        raise HTTPException(status_code=503, detail=f"store unreachable: {exc}") from None
    return {"status": "ok", "store": engine.dialect.name}
