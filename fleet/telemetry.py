"""The telemetry event: one reading from one car, as it travels on Kafka.

On the wire an event is a JSON object whose signal keys are COVESA VSS paths
(``Vehicle.Speed``, ``Vehicle.Powertrain.FuelSystem.RelativeLevel``, ...) in
VSS units; Python code uses the short attribute names. Signals a car did not
report are left out of the JSON and are ``None`` here.

The identity of a record is ``(vin, seq)``: ``seq`` is the car's own message
counter, so a record re-sent after a lost acknowledgement (HTTP retry, MQTT
QoS 1 redelivery, producer retry) carries the same identity and consumers can
drop the copy.

`decode_event` and `encode_event` are the only (de)serialisation code in the
platform; every producer and consumer goes through them. Consumers that only
read the values (the hot path's worker and view writer) use `decode_values`,
the same contract through a faster path (`fleet.wire`) that gives
`TelemetryValues`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from fleet.errors import ContractError
from fleet.vin import VIN_PATTERN
from fleet.wire import FastDecoder

SCHEMA_VERSION: Literal[1] = 1
MAX_RECORD_BYTES = 16 * 1024
"""Larger records are rejected before parsing; a full event is about 1.2 KiB."""

EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_EVENT_TIME = datetime(2100, 1, 1, tzinfo=UTC)


# Physical ranges in VSS units; anything outside is a broken sensor or a forged record.
KmPerHour = Annotated[float, Field(ge=0, le=400)]
MetresPerSecond2 = Annotated[float, Field(ge=-30, le=30)]
Kilometres = Annotated[float, Field(ge=0, le=5_000_000)]
Percent = Annotated[float, Field(ge=0, le=100)]
Litres = Annotated[float, Field(ge=0, le=2_000)]
LitresPer100Km = Annotated[float, Field(ge=0, le=1_000)]
Metres = Annotated[float, Field(ge=0, le=10_000_000)]
Celsius = Annotated[float, Field(ge=-60, le=250)]
KiloPascal = Annotated[float, Field(ge=0, le=2_000)]
Rpm = Annotated[float, Field(ge=0, le=20_000)]
Volts = Annotated[float, Field(ge=0, le=60)]
DtcCode = Annotated[str, Field(pattern=r"^[PCBU][0-3][0-9A-F]{3}$")]
SHORT_TEXT_PATTERN = r"^[A-Za-z0-9_.:\-]+$"
"""Trip, zone and segment names: short words, safe in any store and URL."""
ShortText = Annotated[str, Field(min_length=1, max_length=64, pattern=SHORT_TEXT_PATTERN)]

# VSS path of each signal, keyed by attribute name: the table in DESIGN.md.
VSS_PATHS: dict[str, str] = {
    "vin": "Vehicle.VehicleIdentification.VIN",
    "speed": "Vehicle.Speed",
    "acceleration": "Vehicle.Acceleration.Longitudinal",
    "odometer": "Vehicle.TraveledDistance",
    "latitude": "Vehicle.CurrentLocation.Latitude",
    "longitude": "Vehicle.CurrentLocation.Longitude",
    "heading": "Vehicle.CurrentLocation.Heading",
    "fuel_level": "Vehicle.Powertrain.FuelSystem.RelativeLevel",
    "fuel_litres": "Vehicle.Powertrain.FuelSystem.AbsoluteLevel",
    "fuel_rate": "Vehicle.Powertrain.FuelSystem.InstantConsumption",
    "range": "Vehicle.Powertrain.FuelSystem.Range",
    "coolant_temp": "Vehicle.Powertrain.CombustionEngine.EngineCoolant.Temperature",
    "oil_temp": "Vehicle.Powertrain.CombustionEngine.EngineOil.Temperature",
    "oil_pressure": "Vehicle.Powertrain.CombustionEngine.EOP",
    "engine_speed": "Vehicle.Powertrain.CombustionEngine.Speed",
    "tyre_front_left": "Vehicle.Chassis.Axle.Row1.Wheel.Left.Tire.Pressure",
    "tyre_front_right": "Vehicle.Chassis.Axle.Row1.Wheel.Right.Tire.Pressure",
    "tyre_rear_left": "Vehicle.Chassis.Axle.Row2.Wheel.Left.Tire.Pressure",
    "tyre_rear_right": "Vehicle.Chassis.Axle.Row2.Wheel.Right.Tire.Pressure",
    "battery_voltage": "Vehicle.LowVoltageBattery.CurrentVoltage",
    "dtcs": "Vehicle.Diagnostics.DTCList",
}
TYRES = ("tyre_front_left", "tyre_front_right", "tyre_rear_left", "tyre_rear_right")


def utc_within_bounds(value: datetime) -> datetime:
    """The event time in UTC; ValueError unless it lies in [2000, 2100)."""
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # year 1 at +01:00, year 9999 at -01:00: no such UTC time
        value = EARLIEST_EVENT_TIME - timedelta(microseconds=1)
    if not EARLIEST_EVENT_TIME <= value < LATEST_EVENT_TIME:
        raise ValueError(f"must lie between {EARLIEST_EVENT_TIME:%Y} and {LATEST_EVENT_TIME:%Y}")
    return value


def _vss(name: str) -> Any:
    return Field(default=None, alias=VSS_PATHS[name])


class TelemetryEvent(BaseModel):
    """One reading from one car, validated strictly.

    Types are strict (no numbers in strings, no booleans as numbers), numbers
    finite and within the physical ranges of the VSS units, unknown keys are
    refused, and the event time must carry a time zone (it is kept in UTC).
    """

    model_config = ConfigDict(
        frozen=True,
        strict=True,
        extra="forbid",
        allow_inf_nan=False,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    schema_version: Literal[1] = SCHEMA_VERSION
    vin: Annotated[str, Field(pattern=VIN_PATTERN, alias=VSS_PATHS["vin"])]
    seq: Annotated[int, Field(ge=0, lt=2**63)]
    event_time: AwareDatetime

    # Navigation, as the car's navigation system reports it (not VSS signals).
    trip_id: ShortText | None = None
    origin: ShortText | None = None
    destination: ShortText | None = None
    segment_id: ShortText | None = None

    speed: KmPerHour | None = _vss("speed")
    acceleration: MetresPerSecond2 | None = _vss("acceleration")
    odometer: Kilometres | None = _vss("odometer")
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = _vss("latitude")
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = _vss("longitude")
    heading: Annotated[float, Field(ge=0, lt=360)] | None = _vss("heading")
    fuel_level: Percent | None = _vss("fuel_level")
    fuel_litres: Litres | None = _vss("fuel_litres")
    fuel_rate: LitresPer100Km | None = _vss("fuel_rate")
    range: Metres | None = _vss("range")
    coolant_temp: Celsius | None = _vss("coolant_temp")
    oil_temp: Celsius | None = _vss("oil_temp")
    oil_pressure: KiloPascal | None = _vss("oil_pressure")
    engine_speed: Rpm | None = _vss("engine_speed")
    tyre_front_left: KiloPascal | None = _vss("tyre_front_left")
    tyre_front_right: KiloPascal | None = _vss("tyre_front_right")
    tyre_rear_left: KiloPascal | None = _vss("tyre_rear_left")
    tyre_rear_right: KiloPascal | None = _vss("tyre_rear_right")
    battery_voltage: Volts | None = _vss("battery_voltage")
    dtcs: Annotated[tuple[DtcCode, ...], Field(max_length=32)] | None = _vss("dtcs")

    # The function itself, so that the fast path (fleet.wire) runs the very same check.
    _utc_within_bounds = field_validator("event_time")(staticmethod(utc_within_bounds))

    @property
    def key(self) -> bytes:
        """The Kafka message key: the VIN, so one car's records stay in order."""
        return self.vin.encode("ascii")

    @property
    def record_id(self) -> str:
        """The record's identity, stable across re-sends."""
        return f"{self.vin}:{self.seq}"


class TelemetryValues(Protocol):
    """A decoded record's values, read-only: a `TelemetryEvent` or `decode_values`' struct.

    The fields of `TelemetryEvent`, without its methods; a unit test keeps the
    two lists of names and types alike.
    """

    @property
    def schema_version(self) -> int: ...
    @property
    def vin(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def event_time(self) -> datetime: ...
    @property
    def trip_id(self) -> str | None: ...
    @property
    def origin(self) -> str | None: ...
    @property
    def destination(self) -> str | None: ...
    @property
    def segment_id(self) -> str | None: ...
    @property
    def speed(self) -> float | None: ...
    @property
    def acceleration(self) -> float | None: ...
    @property
    def odometer(self) -> float | None: ...
    @property
    def latitude(self) -> float | None: ...
    @property
    def longitude(self) -> float | None: ...
    @property
    def heading(self) -> float | None: ...
    @property
    def fuel_level(self) -> float | None: ...
    @property
    def fuel_litres(self) -> float | None: ...
    @property
    def fuel_rate(self) -> float | None: ...
    @property
    def range(self) -> float | None: ...
    @property
    def coolant_temp(self) -> float | None: ...
    @property
    def oil_temp(self) -> float | None: ...
    @property
    def oil_pressure(self) -> float | None: ...
    @property
    def engine_speed(self) -> float | None: ...
    @property
    def tyre_front_left(self) -> float | None: ...
    @property
    def tyre_front_right(self) -> float | None: ...
    @property
    def tyre_rear_left(self) -> float | None: ...
    @property
    def tyre_rear_right(self) -> float | None: ...
    @property
    def battery_voltage(self) -> float | None: ...
    @property
    def dtcs(self) -> tuple[str, ...] | None: ...


_FAST = FastDecoder(TelemetryEvent, checks={"event_time": utc_within_bounds})

# pydantic error types, folded into the reason codes that dead-letter headers
# and rejection metrics use.
_REASONS = {
    "json_invalid": "malformed_json",
    "json_type": "malformed_json",
    "model_type": "malformed_json",
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "finite_number": "not_finite",
    "string_pattern_mismatch": "invalid_format",
    "string_too_short": "invalid_format",
    "string_too_long": "invalid_format",
    "literal_error": "unsupported_schema_version",
    "timezone_aware": "naive_timestamp",
    "too_long": "out_of_range",
    "value_error": "out_of_range",
}
_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _reason(error_type: str) -> str:
    if error_type in _RANGE_ERRORS:
        return "out_of_range"
    return _REASONS.get(error_type, "wrong_type")


def _field_name(loc: tuple[int | str, ...], error_type: str) -> str:
    # The wire name, whether the record came as JSON or as Python names; an
    # unknown key is named as it was sent.
    names = {} if error_type == "extra_forbidden" else VSS_PATHS
    parts = [names.get(str(p), str(p)) for p in loc if not isinstance(p, int)]
    indexes = "".join(f"[{p}]" for p in loc if isinstance(p, int))
    return (".".join(parts) or "<record>") + indexes


def _contract_error(exc: ValidationError) -> ContractError:
    first = exc.errors(include_url=False)[0]
    return ContractError(
        _field_name(first["loc"], first["type"]),
        None if first["type"] == "missing" else first.get("input"),
        first["msg"],
        reason=_reason(first["type"]),
    )


def new_event(**values: Any) -> TelemetryEvent:
    """Build an event from attribute names, raising `ContractError` as decoding does."""
    try:
        return TelemetryEvent(**values)
    except ValidationError as exc:
        raise _contract_error(exc) from None


def decode_values(raw: bytes | str) -> TelemetryValues:
    """`decode_event`'s values (or its `ContractError`), in half the time for most records.

    For code that only reads the values; see `fleet.wire` for why the two agree.
    """
    if len(raw) <= MAX_RECORD_BYTES:
        values: TelemetryValues | None = _FAST.decode(raw)
        if values is not None:
            return values
    return decode_event(raw)


def decode_event(raw: bytes | str) -> TelemetryEvent:
    """Parse and validate one JSON record, or raise `ContractError`."""
    size = len(raw)
    if size > MAX_RECORD_BYTES:
        raise ContractError(
            "<record>",
            f"{size} bytes",
            f"record is larger than {MAX_RECORD_BYTES} bytes",
            reason="oversized",
        )
    try:
        # On the wire only the VSS paths are names; the short attribute names
        # are for Python code.
        return TelemetryEvent.model_validate_json(raw, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise _contract_error(exc) from None


def encode_event(event: TelemetryEvent) -> bytes:
    """The JSON bytes of ``event``; unreported signals are left out."""
    return event.model_dump_json(exclude_none=True).encode()
