"""Transport realism: what networks and firmware do to records on the way in.

Each switch is off by default and works on its own:

- **duplicate**: the same bytes sent twice (a retry after a lost acknowledgement);
- **reorder**: a record overtaken by the same car's next record;
- **late**: a record held back for 1-15 simulated minutes (a car out of coverage);
- **malformed**: an extra, broken record next to the good one, in one of five
  ways (bad JSON, a wrong type, NaN, an out-of-range value, an unknown field),
  so the dead-letter path has work; the good record still goes out.

Every effect is counted; the counts go into the truth output.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

MALFORMED_KINDS = ("bad_json", "wrong_type", "not_finite", "out_of_range", "unknown_field")
LATE_S = (60.0, 900.0)

Record = tuple[bytes, bytes]  # (key, value)


@dataclass
class Realism:
    late: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    malformed: float = 0.0
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    counts: Counter[str] = field(default_factory=Counter)
    _held: dict[bytes, bytes] = field(default_factory=dict)  # reorder: key -> record
    _late: list[tuple[float, int, bytes, bytes]] = field(default_factory=list)
    _order: int = 0

    @property
    def active(self) -> bool:
        return any((self.late, self.duplicate, self.reorder, self.malformed))

    def apply(self, t: float, records: list[Record]) -> list[Record]:
        """The records to send at simulated time ``t`` for the ones generated then."""
        draws = self.rng.random((len(records), 5))
        out: list[Record] = []
        while self._late and self._late[0][0] <= t:
            _, _, key, value = heapq.heappop(self._late)
            out.append((key, value))
        for (key, value), (u_late, u_dup, u_reorder, u_bad, u_kind) in zip(
            records, draws.tolist(), strict=True
        ):
            if u_bad < self.malformed:
                kind = MALFORMED_KINDS[int(u_kind * len(MALFORMED_KINDS))]
                out.append((key, corrupt(value, kind)))
                self.counts[f"malformed.{kind}"] += 1
            held = self._held.pop(key, None)
            if u_late < self.late:
                delay = LATE_S[0] + u_kind * (LATE_S[1] - LATE_S[0])
                self._order += 1
                heapq.heappush(self._late, (t + delay, self._order, key, value))
                self.counts["late"] += 1
            elif u_reorder < self.reorder and held is None:
                self._held[key] = value
                self.counts["reordered"] += 1
            else:
                out.append((key, value))
                if u_dup < self.duplicate:
                    out.append((key, value))
                    self.counts["duplicated"] += 1
            if held is not None:
                out.append((key, held))
        return out

    def drain(self) -> list[Record]:
        """Everything still held back, for the end of the run."""
        out = [(k, v) for _, _, k, v in sorted(self._late)] + list(self._held.items())
        self._late.clear()
        self._held.clear()
        return out


def corrupt(value: bytes, kind: str) -> bytes:
    """A broken copy of a good record, failing the contract in the way ``kind`` names."""
    if kind == "bad_json":
        return value[: len(value) // 2]
    if kind == "wrong_type":
        return value.replace(b'"seq":', b'"seq":"', 1).replace(
            b',"event_time"', b'","event_time"', 1
        )
    if kind == "not_finite":
        return _swap_speed(value, b"NaN")
    if kind == "out_of_range":
        return _swap_speed(value, b"999.0")
    if kind == "unknown_field":
        return value[:-1] + b',"Vehicle.Cabin.Teleporter.Engaged":true}'
    raise ValueError(f"unknown malformation {kind!r}")


def _swap_speed(value: bytes, replacement: bytes) -> bytes:
    start = value.index(b'"Vehicle.Speed":') + len(b'"Vehicle.Speed":')
    end = value.index(b",", start)
    return value[:start] + replacement + value[end:]
