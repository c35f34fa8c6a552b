"""Dead-letter records: the original bytes, and why they were refused, in headers.

Every stage that dead-letters writes these headers (all UTF-8): ``reason`` (a
`fleet.telemetry` reason code, or the ingest gateway's ``vin_mismatch``,
``oversized``, ...), ``field`` (wire name, or ``<record>``/``<body>``),
``problem`` (human-readable), ``source`` (``http``, ``mqtt``, ``hot-path``),
``time`` (ISO-8601 UTC, when it was refused), ``credential_vin`` (whose
credential sent it; empty where none did) and, when the stored bytes are only
the first `MAX_RECORD_BYTES` of something larger, ``original_size``. A stage
that read the record from Kafka adds where: ``topic``, ``partition``,
``offset``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from fleet.telemetry import MAX_RECORD_BYTES

Source = Literal["http", "mqtt", "hot-path"]
PROBLEM_LIMIT = 512
"""Problems quote the offending input; a hostile record must not make the header huge."""


@dataclass(frozen=True)
class Rejection:
    """Why one record (or a whole request body) was refused."""

    reason: str
    field: str
    problem: str


def dead_letter_headers(
    rejection: Rejection,
    *,
    source: Source,
    credential_vin: str | None,
    original_size: int | None = None,
    origin: tuple[str, int, int] | None = None,
    now: datetime | None = None,
) -> list[tuple[str, str | bytes | None]]:
    """``origin`` is the (topic, partition, offset) a record was consumed from, if it was."""
    when = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")
    headers = [
        ("reason", rejection.reason),
        ("field", rejection.field),
        ("problem", rejection.problem[:PROBLEM_LIMIT]),
        ("source", source),
        ("time", when),
        ("credential_vin", credential_vin or ""),
    ]
    if original_size is not None:
        headers.append(("original_size", str(original_size)))
    if origin is not None:
        topic, partition, offset = origin
        headers += [("topic", topic), ("partition", str(partition)), ("offset", str(offset))]
    return [(k, v.encode()) for k, v in headers]


def dead_letter_value(raw: bytes) -> tuple[bytes, int | None]:
    """The bytes to store and, when they had to be cut, the original size.

    Records are stored whole up to `MAX_RECORD_BYTES`; only refused request
    bodies (up to the gateway's body limit) can be larger, and their first
    `MAX_RECORD_BYTES` say enough to diagnose the sender.
    """
    if len(raw) <= MAX_RECORD_BYTES:
        return raw, None
    return raw[:MAX_RECORD_BYTES], len(raw)


def header_map(headers: list[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """Headers of a consumed dead-letter record as a dict, for tools and tests."""
    return {k: (v or b"").decode(errors="replace") for k, v in headers or []}
