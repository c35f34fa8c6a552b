"""The telemetry contract: what it accepts, what it refuses, and how it names the problem."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from fleet.errors import ContractError
from fleet.telemetry import (
    MAX_RECORD_BYTES,
    VSS_PATHS,
    TelemetryEvent,
    decode_event,
    encode_event,
)

VIN = "1HGCM82633A004352"


def full_event(**overrides) -> TelemetryEvent:
    values = {
        "vin": VIN,
        "seq": 41,
        "event_time": datetime(2026, 11, 25, 8, 30, tzinfo=UTC),
        "trip_id": "trip-7",
        "origin": "depot",
        "destination": "airport",
        "segment_id": "ring-road.3",
        "speed": 72.5,
        "acceleration": -1.2,
        "odometer": 48211.4,
        "latitude": 52.37,
        "longitude": 4.89,
        "heading": 271.0,
        "fuel_level": 63.0,
        "fuel_litres": 31.5,
        "fuel_rate": 6.8,
        "range": 455_000.0,
        "coolant_temp": 90.0,
        "oil_temp": 95.0,
        "oil_pressure": 320.0,
        "engine_speed": 2100.0,
        "tyre_front_left": 230.0,
        "tyre_front_right": 231.0,
        "tyre_rear_left": 228.0,
        "tyre_rear_right": 229.0,
        "battery_voltage": 14.1,
        "dtcs": ("P0217",),
    }
    values.update(overrides)
    return TelemetryEvent(**values)


def wire(**changes) -> bytes:
    """A valid record as JSON with some keys replaced (None deletes the key)."""
    record = json.loads(encode_event(full_event()))
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return json.dumps(record).encode()


def test_a_record_survives_the_round_trip_unchanged():
    event = full_event()
    assert decode_event(encode_event(event)) == event


def test_signals_travel_under_their_vss_paths_in_si_units():
    record = json.loads(encode_event(full_event()))
    assert record["Vehicle.VehicleIdentification.VIN"] == VIN
    assert record["Vehicle.Speed"] == 72.5
    assert record["Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature"] == 90.0
    assert record["Vehicle.Chassis.Axle.Row2.Wheel.Right.Tire.Pressure"] == 229.0
    assert set(VSS_PATHS.values()) <= set(record)
    assert record["event_time"] == "2026-11-25T08:30:00Z"


def test_unreported_signals_are_left_out_of_the_json():
    event = TelemetryEvent(vin=VIN, seq=0, event_time=datetime(2026, 1, 1, tzinfo=UTC), speed=0.0)
    assert json.loads(encode_event(event)) == {
        "schema_version": 1,
        "Vehicle.VehicleIdentification.VIN": VIN,
        "seq": 0,
        "event_time": "2026-01-01T00:00:00Z",
        "Vehicle.Speed": 0.0,
    }


def test_event_time_is_kept_in_utc():
    cet = timezone(timedelta(hours=1))
    event = decode_event(wire(event_time="2026-11-25T09:30:00+01:00"))
    assert event.event_time == datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    assert event.event_time.tzinfo == UTC
    assert full_event(event_time=datetime(2026, 11, 25, 9, 30, tzinfo=cet)).event_time.hour == 8


def test_the_kafka_key_is_the_vin_and_the_identity_is_vin_and_seq():
    event = full_event()
    assert event.key == VIN.encode()
    assert event.record_id == f"{VIN}:41"


def signal(name: str, value: object) -> tuple[bytes, str]:
    """A record with one signal changed, and that signal's wire name."""
    return wire(**{VSS_PATHS[name]: value}), VSS_PATHS[name]


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        (b"{not json", "<record>", "malformed_json"),
        (b"[1, 2]", "<record>", "malformed_json"),
        (*signal("speed", "72"), "wrong_type"),
        (*signal("speed", True), "wrong_type"),
        (wire(seq=1.5), "seq", "wrong_type"),
        (*signal("speed", -3), "out_of_range"),
        (*signal("speed", 401), "out_of_range"),
        (*signal("latitude", 91), "out_of_range"),
        (*signal("heading", 360), "out_of_range"),
        (*signal("fuel_level", 100.5), "out_of_range"),
        (*signal("vin", None), "missing_field"),
        (wire(seq=None), "seq", "missing_field"),
        (*signal("vin", "1HGCM82633A00435O"), "invalid_format"),
        (*signal("vin", "1HGCM8263"), "invalid_format"),
        (
            wire(**{VSS_PATHS["dtcs"]: ["P0217", "oops"]}),
            VSS_PATHS["dtcs"] + "[1]",
            "invalid_format",
        ),
        (wire(event_time="2026-11-25T08:30:00"), "event_time", "naive_timestamp"),
        (wire(event_time="1999-12-31T23:59:59Z"), "event_time", "out_of_range"),
        (wire(event_time=1764059400), "event_time", "wrong_type"),
        (wire(schema_version=2), "schema_version", "unsupported_schema_version"),
        (wire(**{"Vehicle.Horn": True}), "Vehicle.Horn", "unknown_field"),
        (wire(speed=50.0), "speed", "unknown_field"),  # Python names are not wire names
        (wire(trip_id="a b"), "trip_id", "invalid_format"),
    ],
)
def test_a_bad_record_is_refused_naming_the_field_and_the_reason(raw, field, reason):
    with pytest.raises(ContractError) as caught:
        decode_event(raw)
    assert caught.value.field == field
    assert caught.value.reason == reason
    assert field in str(caught.value)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_numbers_must_be_finite(literal):
    raw = wire(**{"Vehicle.Speed": 0}).replace(
        b'"Vehicle.Speed": 0', b'"Vehicle.Speed": ' + literal
    )
    with pytest.raises(ContractError) as caught:
        decode_event(raw)
    assert caught.value.reason in {"not_finite", "malformed_json"}
    assert caught.value.field in {"Vehicle.Speed", "<record>"}


def test_the_error_carries_the_offending_value():
    with pytest.raises(ContractError) as caught:
        decode_event(wire(**{"Vehicle.Powertrain.CombustionEngine.EOP": 99999}))
    assert caught.value.value == 99999
    assert "99999" in str(caught.value)


def test_an_oversized_record_is_refused_before_parsing():
    raw = b'{"padding": "' + b"x" * MAX_RECORD_BYTES + b'"}'
    with pytest.raises(ContractError) as caught:
        decode_event(raw)
    assert caught.value.reason == "oversized"


def test_python_construction_is_as_strict_as_the_wire():
    with pytest.raises(ValueError):
        full_event(speed=float("nan"))
    with pytest.raises(ValueError):
        full_event(event_time=datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError):
        full_event(coolant_temp="90")


def test_building_an_event_in_python_raises_the_contract_error_too():
    from fleet.telemetry import new_event

    with pytest.raises(ContractError) as caught:
        new_event(vin=VIN, seq=1, event_time=datetime(2026, 1, 1, tzinfo=UTC), oil_pressure=-1.0)
    assert caught.value.field == "Vehicle.Powertrain.CombustionEngine.EOP"
    assert caught.value.reason == "out_of_range"
    assert new_event(vin=VIN, seq=1, event_time=datetime(2026, 1, 1, tzinfo=UTC)).seq == 1
