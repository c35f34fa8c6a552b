"""A table seen through a write buffer, so state is stored only after its alerts are out.

If a worker wrote a car's new state (which says "alert open") to the changelog
and died before the alert reached ``fleet.alerts``, the restarted worker would
restore that state, take the replayed record for old news and never publish
the alert. The agent therefore lets `process_record` write into a `Staged`
view, hands the alerts to the producer first and only then applies the
writes. (Waiting for the broker's acknowledgement as well was tried and
backed out: see docs/hot_path.md, open issues.)
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

_GONE = object()


class Staged(MutableMapping[str, Any]):
    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self.writes: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        value = self.writes.get(key, _GONE)
        if value is _GONE:
            return self.table[key]
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self.writes.get(key, _GONE)
        if value is _GONE:
            return self.table.get(key, default)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes[key] = value

    def __delitem__(self, key: str) -> None:
        raise NotImplementedError("the hot path never deletes table keys")

    def __iter__(self) -> Iterator[str]:
        yield from self.writes
        yield from (k for k in self.table if k not in self.writes)

    def __len__(self) -> int:
        return len(self.table) + sum(1 for k in self.writes if k not in self.table)

    def items(self) -> Any:  # the table's own items() is much faster than __iter__ + get
        merged = dict(self.table.items())
        merged.update(self.writes)
        return merged.items()

    def values(self) -> Any:
        return dict(self.items()).values()

    def apply(self) -> None:
        for key, value in self.writes.items():
            self.table[key] = value
        self.writes.clear()
