"""Which batch version a request reads, and where the speed layer takes over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from fleet.store import batch_current, batch_runs
from serving.merge import is_aligned, speed_cutoff


@dataclass(frozen=True, slots=True)
class View:
    """The published batch version (None before the first run) and the merge boundary."""

    version: int | None
    watermark: datetime | None
    speed_from: datetime | None
    aligned: bool


# Built once: every request reads it, and building a statement costs more than running it.
_CURRENT = (
    select(batch_runs.c.version, batch_runs.c.watermark)
    .join(batch_current, batch_current.c.version == batch_runs.c.version)
    .where(batch_current.c.id == 1)
)


def current_view(conn: Connection, *, bucket_s: int) -> View:
    """The batch version to read now; read it once per request and use it throughout."""
    row = conn.execute(_CURRENT).first()
    if row is None:
        return View(None, None, None, True)
    mark = row.watermark
    aligned = mark is None or is_aligned(mark, bucket_s)
    return View(row.version, mark, speed_cutoff(mark, bucket_s), aligned)
