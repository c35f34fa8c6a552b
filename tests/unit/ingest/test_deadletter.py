"""Dead-letter headers say why, where from, when and whose; large bodies are cut, not lost."""

from __future__ import annotations

from datetime import UTC, datetime

from fleet.deadletter import (
    PROBLEM_LIMIT,
    Rejection,
    dead_letter_headers,
    dead_letter_value,
    header_map,
)
from fleet.telemetry import MAX_RECORD_BYTES


def test_headers_carry_reason_field_source_time_and_vin():
    when = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    headers = dead_letter_headers(
        Rejection("out_of_range", "Vehicle.Speed", "too fast"),
        source="mqtt", credential_vin="1HGCM82633A004352", now=when,
    )  # fmt: skip
    assert header_map(headers) == {
        "reason": "out_of_range",
        "field": "Vehicle.Speed",
        "problem": "too fast",
        "source": "mqtt",
        "time": "2026-05-01T10:00:00.000+00:00",
        "credential_vin": "1HGCM82633A004352",
    }


def test_a_hostile_problem_text_is_bounded():
    headers = dead_letter_headers(
        Rejection("wrong_type", "x", "p" * 100_000), source="http", credential_vin=None
    )
    assert len(header_map(headers)["problem"]) == PROBLEM_LIMIT


def test_records_are_kept_whole_and_bodies_cut_to_one_record():
    small = b"x" * MAX_RECORD_BYTES
    assert dead_letter_value(small) == (small, None)
    big = b"y" * (MAX_RECORD_BYTES * 3)
    value, original = dead_letter_value(big)
    assert value == big[:MAX_RECORD_BYTES] and original == len(big)
