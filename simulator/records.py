"""Turning the fleet's state at one instant into wire records.

The contract's `TelemetryEvent` is the reference for what a record may hold,
but building a pydantic model (or even a dict) per record would cost more
than the whole physics. So each signal column is rounded as a numpy array and
turned into JSON number tokens by one orjson call per column; each record is
then one bytes ``%`` substitution of those tokens into a precomputed JSON
template (four of them: on a trip or parked, moving or still). That is safe
because every string value is a VIN, an ISO timestamp or a navigation name,
which the contract limits to characters JSON never escapes. A unit test
decodes a large sample through `fleet.telemetry.decode_event` to keep the two
in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat

import numpy as np
import orjson

from fleet.telemetry import SCHEMA_VERSION, TYRES, VSS_PATHS

NAV = ("trip_id", "origin", "destination", "segment_id")
SIGNALS = (
    "speed", "acceleration", "odometer", "latitude", "longitude", "heading", "fuel_level",
    "fuel_litres", "fuel_rate", "range", "coolant_temp", "oil_temp", "oil_pressure",
    "engine_speed", *TYRES, "battery_voltage",
)  # fmt: skip
HEAD = ("schema_version", VSS_PATHS["vin"], "seq", "event_time")
KEYS = (*HEAD, *NAV, *(VSS_PATHS[s] for s in SIGNALS))
STRINGS = {VSS_PATHS["vin"], "event_time", *NAV}
INTS = {"schema_version", "seq"}
# Decimals per signal: the sensor's useful resolution, and short records.
DECIMALS = {
    "speed": 1, "acceleration": 2, "odometer": 2, "latitude": 6, "longitude": 6,
    "heading": 1, "fuel_level": 1, "fuel_litres": 2, "fuel_rate": 1, "range": 0,
    "coolant_temp": 1, "oil_temp": 1, "oil_pressure": 0, "engine_speed": 0,
    **dict.fromkeys(TYRES, 1), "battery_voltage": 2,
}  # fmt: skip
MIN_SPEED_FOR_RATE = 2.0  # km/h; l/100 km means nothing for a car standing still
DTC_KEY = VSS_PATHS["dtcs"]

_TRIP = slice(len(HEAD), len(HEAD) + len(NAV))
_RATE = _TRIP.stop + SIGNALS.index("fuel_rate")


def _template(keys: Sequence[str]) -> bytes:
    fields = (f'"{k}":' + ('"%s"' if k in STRINGS else "%d" if k in INTS else "%s") for k in keys)
    return ("{" + ",".join(fields) + "}").encode()


def _without(keys: Sequence[str], drop: set[int]) -> list[str]:
    return [k for i, k in enumerate(keys) if i not in drop]


_NAV_IDX = set(range(_TRIP.start, _TRIP.stop))
FULL = _template(KEYS)
STILL = _template(_without(KEYS, {_RATE}))
PARKED = _template(_without(KEYS, _NAV_IDX))
PARKED_STILL = _template(_without(KEYS, _NAV_IDX | {_RATE}))
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def _tokens(values: np.ndarray, decimals: int) -> list[bytes]:
    """The JSON text of each rounded value, for a whole column in one C call."""
    rounded = np.round(values, decimals) if decimals else np.rint(values)
    return orjson.dumps(rounded, option=_NUMPY)[1:-1].split(b",")


def encode_rows(
    vins: Sequence[bytes],
    seqs: Sequence[int],
    times: Sequence[bytes],
    nav: Sequence[Sequence[bytes | None]],
    signals: dict[str, np.ndarray],
    dtcs: Sequence[tuple[str, ...] | None],
) -> list[bytes]:
    """One JSON record per row; ``nav`` columns hold None where a car is not on a trip."""
    columns = [_tokens(signals[name], DECIMALS[name]) for name in SIGNALS]
    still_col = (signals["speed"] < MIN_SPEED_FOR_RATE).tolist()
    out: list[bytes] = []
    append = out.append
    rows = zip(repeat(SCHEMA_VERSION), vins, seqs, times, *nav, *columns, strict=False)
    n0, n1, r = _TRIP.start, _TRIP.stop, _RATE
    for row, still, dtc in zip(rows, still_col, dtcs, strict=True):
        if row[n0] is None:  # parked: the navigation system has no trip to report
            text = (
                PARKED_STILL % (row[:n0] + row[n1:r] + row[r + 1 :])
                if still
                else PARKED % (row[:n0] + row[n1:])
            )
        else:
            text = STILL % (row[:r] + row[r + 1 :]) if still else FULL % row
        if dtc:
            codes = ",".join(f'"{c}"' for c in dtc)
            text = text[:-1] + f',"{DTC_KEY}":[{codes}]}}'.encode()
        append(text)
    return out
