"""The speed layer's bookkeeping for one car: which records are news and what each adds.

`advance` is pure. A car's `Track` holds its newest reading (the frontier)
and the seqs below the frontier's that have not arrived yet. Records are
told apart by their identity ``(VIN, seq)``, where ``seq`` is the car's own
message counter:

- **in order** (event time after the frontier's): it becomes the frontier and
  adds `fleet.metrics.increment` over the old frontier; the seqs it skipped
  are remembered as missing;
- **late** (older, and its seq is one of the missing): it adds itself (one
  record) to its own event-time bucket and nothing else, because the pair of
  readings around it has already added the distance, fuel and driving time
  it would have split; its harsh acceleration, if any, is not counted;
- **duplicate** (older and not missing, or the frontier again): adds nothing.

Only the newest `MAX_MISSING` missing seqs are remembered; a record older than
those is taken for a duplicate and left to the batch.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from fleet.metrics import Increment, Reading, increment
from fleet.telemetry import TelemetryValues

MAX_MISSING = 64


class Verdict(StrEnum):
    IN_ORDER = "in_order"
    LATE = "late"
    DUPLICATE = "duplicate"


class Track(NamedTuple):  # made once a record: a named tuple, as `Reading`
    seq: int
    last: Reading
    missing: tuple[int, ...] = ()


def reading_of(ev: TelemetryValues) -> Reading:
    return Reading(
        ev.event_time.timestamp(), ev.odometer, ev.fuel_litres, ev.speed, ev.acceleration
    )


def advance(
    track: Track | None, ev: TelemetryValues
) -> tuple[Track | None, Verdict, Increment | None]:
    """The car's next track, what the record is, and what it adds (None: nothing)."""
    cur = reading_of(ev)
    if track is None:
        return Track(ev.seq, cur), Verdict.IN_ORDER, increment(None, cur)
    if cur.t > track.last.t:
        skipped = range(max(track.seq + 1, ev.seq - MAX_MISSING), ev.seq)
        missing = (*track.missing, *skipped)[-MAX_MISSING:]
        # A counter that went back (a device reset) restarts the bookkeeping.
        missing = missing if ev.seq > track.seq else ()
        return Track(ev.seq, cur, missing), Verdict.IN_ORDER, increment(track.last, cur)
    if ev.seq in track.missing:
        rest = tuple(s for s in track.missing if s != ev.seq)
        return Track(track.seq, track.last, rest), Verdict.LATE, Increment()
    return track, Verdict.DUPLICATE, None


def bucket_start(t: float, bucket_s: int) -> float:
    """Start (epoch seconds) of the event-time bucket holding ``t``."""
    return t - t % bucket_s
