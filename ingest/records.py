"""Splitting a request body into records and checking each one: pure, no Kafka."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from fleet.deadletter import Rejection
from fleet.errors import ContractError
from fleet.telemetry import VSS_PATHS, TelemetryEvent, decode_event

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
VIN_FIELD = VSS_PATHS["vin"]


@dataclass(frozen=True)
class BodyError(Exception):
    """The body as a whole cannot be taken apart into records."""

    rejection: Rejection
    status: int


def split_body(body: bytes, *, max_records: int) -> list[bytes]:
    """The records of a body: one JSON object, or a JSON array of them.

    Each record keeps its original bytes (for the dead-letter topic); whether it
    is a valid event is `check_record`'s business, so ``[1, {"x": 2}]`` splits
    into two records that are then refused one by one.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _malformed(f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    start = _WS.match(text, 0)
    pos = start.end() if start else 0
    if text.startswith("{", pos):
        return [body]
    if not text.startswith("[", pos):
        raise _malformed("body must be a JSON object or a JSON array of objects")
    records: list[bytes] = []
    pos = _skip_ws(text, pos + 1)
    if text.startswith("]", pos):
        raise BodyError(Rejection("empty_batch", "<body>", "the array holds no records"), 422)
    while True:
        try:
            _, end = _DECODER.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            raise _malformed(f"body is not valid JSON: {_short(exc)}") from None
        records.append(text[pos:end].encode("utf-8"))
        if len(records) > max_records:
            raise BodyError(
                Rejection("too_many_records", "<body>", f"a batch holds at most {max_records}"),
                413,
            )
        pos = _skip_ws(text, end)
        if text.startswith(",", pos):
            pos = _skip_ws(text, pos + 1)
            continue
        if text.startswith("]", pos) and not text[pos + 1 :].strip(" \t\n\r"):
            return records
        raise _malformed(f"body is not valid JSON: unexpected data at character {pos}")


def check_record(raw: bytes, credential_vin: str) -> TelemetryEvent | Rejection:
    """The event, or why it is refused; a record for another VIN than the credential's is."""
    try:
        event = decode_event(raw)
    except ContractError as exc:
        return Rejection(exc.reason, exc.field, exc.problem)
    if event.vin != credential_vin:
        return Rejection(
            "vin_mismatch",
            VIN_FIELD,
            f"the record is for {event.vin} but the credential is for {credential_vin}",
        )
    return event


def _skip_ws(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _malformed(problem: str) -> BodyError:
    return BodyError(Rejection("malformed_json", "<body>", problem), 400)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
