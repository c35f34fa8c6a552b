"""The Lambda merge: batch totals up to the watermark plus speed increments after it.

Pure functions over plain values, so the boundary rule is tested on its own.

The boundary. The speed layer adds each in-order reading's increment to the
bucket ``[start, start + bucket_s)`` holding that reading's event time
(``hot_path.speed.bucket_start``, epoch-aligned). The batch's half
(``cold_path.totals``) sums the same `fleet.metrics.increment` up to the car's
last in-order reading before the watermark, exactly where the speed buckets
from the watermark on take over. When the watermark is a bucket boundary the
two halves are exact complements: batch = pairs up to that reading, speed =
buckets starting at or after the watermark.

When it is not (the batch floors its watermark to ``FLEET_SPEED_BUCKET_S``,
the bucket size; a store written under another size), the bucket around the
watermark holds readings on both sides of it and cannot be split. Serving
then takes speed buckets from the first boundary *after* the watermark
(`speed_cutoff`), so nothing is counted twice; the readings between the
watermark and that boundary are missing from the merged figure until the next
batch run covers them, and the answer says so (``aligned: false``). With one
shared bucket size the batch's watermark is always a bucket boundary and the
merge is exact (see docs/serving.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from fleet.metrics import MIN_DISTANCE_KM

BATCH = "batch"
SPEED = "speed"


@dataclass(frozen=True, slots=True)
class Totals:
    """What a layer knows of one car's distance and fuel."""

    distance_km: float = 0.0
    fuel_used_l: float = 0.0

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.distance_km + other.distance_km, self.fuel_used_l + other.fuel_used_l)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One speed-layer row: a car's increments in one event-time bucket."""

    bucket_start: datetime
    distance_km: float
    fuel_used_l: float


@dataclass(frozen=True, slots=True)
class Merged:
    totals: Totals
    layers: tuple[str, ...]

    @property
    def l_per_100km(self) -> float | None:
        return l_per_100km(self.totals)


def l_per_100km(totals: Totals) -> float | None:
    """Litres per 100 km, or None below `MIN_DISTANCE_KM` where it is noise."""
    if totals.distance_km < MIN_DISTANCE_KM:
        return None
    return totals.fuel_used_l / totals.distance_km * 100.0


def is_aligned(watermark: datetime, bucket_s: int) -> bool:
    """Whether ``watermark`` is a bucket boundary (an exact merge)."""
    return watermark.timestamp() % bucket_s == 0


def speed_cutoff(watermark: datetime | None, bucket_s: int) -> datetime | None:
    """The earliest bucket start the speed layer contributes; None: every bucket.

    The watermark itself when it is a bucket boundary, else the next boundary
    after it: a bucket straddling the watermark is left out rather than
    counted twice.
    """
    if watermark is None:
        return None
    t = watermark.timestamp()
    rest = t % bucket_s
    start = t if rest == 0 else t - rest + bucket_s
    return datetime.fromtimestamp(start, tz=UTC)


def speed_totals(buckets: Iterable[Bucket], cutoff: datetime | None) -> Totals | None:
    """Sum of the buckets at or after ``cutoff``; None if no bucket counts."""
    counted = [b for b in buckets if cutoff is None or b.bucket_start >= cutoff]
    if not counted:
        return None
    return Totals(sum(b.distance_km for b in counted), sum(b.fuel_used_l for b in counted))


def merge(batch: Totals | None, speed: Totals | None) -> Merged:
    """Batch (before the watermark) plus speed (after it), and which layers served."""
    layers = tuple(name for name, part in ((BATCH, batch), (SPEED, speed)) if part is not None)
    total = (batch or Totals()) + (speed or Totals())
    return Merged(total, layers)


def merge_vehicle(
    batch: Totals | None,
    buckets: Iterable[Bucket],
    *,
    watermark: datetime | None,
    bucket_s: int,
) -> Merged:
    """One car's merged totals from its batch row and its speed buckets."""
    return merge(batch, speed_totals(buckets, speed_cutoff(watermark, bucket_s)))
