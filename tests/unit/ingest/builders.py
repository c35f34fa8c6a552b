"""Records and VINs for ingest tests (unit and integration)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def new_vin() -> str:
    """A random well-formed VIN, so each test's records are its own."""
    return "".join(random.choices(VIN_ALPHABET, k=17))


def event(vin: str, seq: int, **signals: Any) -> dict[str, Any]:
    """A valid wire event (VSS names), with ``signals`` overriding or adding keys."""
    body: dict[str, Any] = {
        "schema_version": 1,
        "Vehicle.VehicleIdentification.VIN": vin,
        "seq": seq,
        "event_time": (T0 + timedelta(seconds=seq)).isoformat(),
        "Vehicle.Speed": 62.5,
        "Vehicle.Powertrain.FuelSystem.RelativeLevel": 48.0,
        "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature": 91.0,
    }
    body.update(signals)
    return body


def record(vin: str, seq: int, **signals: Any) -> bytes:
    return json.dumps(event(vin, seq, **signals)).encode()


def batch(records: list[bytes]) -> bytes:
    return b"[" + b",".join(records) + b"]"


def murmur2_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's Java client (and murmur2_random) picks for ``key``."""
    m, length = 0x5BD1E995, len(key)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    tail = length - length % 4
    for i in range(0, tail, 4):
        k = int.from_bytes(key[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = length % 4
    if rest == 3:
        h ^= key[tail + 2] << 16
    if rest >= 2:
        h ^= key[tail + 1] << 8
    if rest >= 1:
        h ^= key[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions
