"""Taking a request body apart into records, and checking each against the contract."""

from __future__ import annotations

import json

import pytest

from fleet.deadletter import Rejection
from fleet.telemetry import MAX_RECORD_BYTES, TelemetryEvent
from ingest.records import BodyError, check_record, split_body
from tests.unit.ingest.builders import batch, new_vin, record

VIN = new_vin()


def test_one_object_is_one_record_with_its_bytes():
    raw = record(VIN, 1)
    assert split_body(raw, max_records=10) == [raw]


def test_array_elements_keep_their_original_bytes():
    first = b'{"seq":1,  "x":[1, 2]}'
    second = b'{ "a" : "\\u00e9" }'
    body = b" [\n" + first + b" ,\t" + second + b"\n] "
    assert split_body(body, max_records=10) == [first, second]


def test_non_objects_in_an_array_are_records_refused_one_by_one():
    parts = split_body(b'[1, "x", null, {"a": 1}]', max_records=10)
    assert parts == [b"1", b'"x"', b"null", b'{"a": 1}']
    assert all(isinstance(check_record(p, VIN), Rejection) for p in parts)


@pytest.mark.parametrize(
    ("body", "reason", "status"),
    [
        (b"[]", "empty_batch", 422),
        (b"[{}, ", "malformed_json", 400),
        (b'[{"a":1}] trailing', "malformed_json", 400),
        (b"42", "malformed_json", 400),
        (b"", "malformed_json", 400),
        (b"\xff\xfe[", "malformed_json", 400),
        (b"[" * 100_000, "malformed_json", 400),
        (b"[" + b"1," * 11 + b"1]", "too_many_records", 413),
    ],
)
def test_bodies_that_cannot_be_split_name_the_reason(body, reason, status):
    with pytest.raises(BodyError) as caught:
        split_body(body, max_records=10)
    assert caught.value.rejection.reason == reason
    assert caught.value.rejection.field == "<body>"
    assert caught.value.status == status


def test_a_valid_record_for_the_credentials_vin_is_accepted():
    outcome = check_record(record(VIN, 7), VIN)
    assert isinstance(outcome, TelemetryEvent)
    assert outcome.record_id == f"{VIN}:7"


def test_a_record_for_another_vin_is_a_vin_mismatch():
    other = new_vin()
    outcome = check_record(record(other, 1), VIN)
    assert outcome == Rejection(
        "vin_mismatch",
        "Vehicle.VehicleIdentification.VIN",
        f"the record is for {other} but the credential is for {VIN}",
    )


@pytest.mark.parametrize(
    ("raw", "reason", "field"),
    [
        (record(VIN, 1, **{"Vehicle.Speed": 900.0}), "out_of_range", "Vehicle.Speed"),
        (record(VIN, 1, **{"Vehicle.Speed": "fast"}), "wrong_type", "Vehicle.Speed"),
        (record(VIN, 1).replace(b"62.5", b"NaN"), "not_finite", "Vehicle.Speed"),
        (record(VIN, 1, bogus=1), "unknown_field", "bogus"),
        (b"{not json", "malformed_json", "<record>"),
        (record(VIN, 1, event_time="2026-05-01T08:00:00"), "naive_timestamp", "event_time"),
    ],
)
def test_contract_violations_name_field_and_reason(raw, reason, field):
    outcome = check_record(raw, VIN)
    assert isinstance(outcome, Rejection)
    assert (outcome.reason, outcome.field) == (reason, field)
    assert outcome.problem


def test_an_oversized_record_is_refused_before_parsing():
    raw = json.dumps({"pad": "x" * MAX_RECORD_BYTES}).encode()
    outcome = check_record(raw, VIN)
    assert isinstance(outcome, Rejection) and outcome.reason == "oversized"


def test_a_batch_builder_round_trips():
    raws = [record(VIN, i) for i in range(3)]
    assert split_body(batch(raws), max_records=3) == raws
