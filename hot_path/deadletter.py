"""Dead-letter records of the hot path: `fleet.deadletter`'s headers, with where it was read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fleet.deadletter import Rejection, Source, dead_letter_headers
from fleet.errors import ContractError

SOURCE: Source = "hot-path"
Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class DeadLetter:
    key: bytes | None
    value: bytes
    headers: Headers


def rejection(exc: ContractError) -> Rejection:
    return Rejection(exc.reason, exc.field, exc.problem)


def dead_letter(
    key: bytes | None,
    value: bytes,
    why: Rejection,
    *,
    topic: str,
    partition: int,
    offset: int,
    now: datetime,
) -> DeadLetter:
    """The original bytes and why they were refused, where they came from, and when."""
    headers = dead_letter_headers(
        why, source=SOURCE, credential_vin=None, origin=(topic, partition, offset), now=now
    )
    # Every value is already UTF-8 bytes; the wider type is what producers accept.
    return DeadLetter(key, value, [(k, v) for k, v in headers if isinstance(v, bytes)])
