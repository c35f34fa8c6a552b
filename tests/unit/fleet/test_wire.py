"""The fast decoder against pydantic: it accepts only what the contract accepts, with
the same values, and leaves every rejection (and its reason) to pydantic."""

from __future__ import annotations

import json
import types
import typing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import (
    AfterValidator,
    AliasPath,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NaiveDatetime,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from fleet.errors import ContractError
from fleet.telemetry import (
    _FAST,
    EARLIEST_EVENT_TIME,
    MAX_RECORD_BYTES,
    VSS_PATHS,
    TelemetryEvent,
    TelemetryValues,
    decode_event,
    decode_values,
)
from fleet.wire import FastDecoder
from simulator.config import SEEDED_START
from simulator.generator import Simulation

VIN_KEY = VSS_PATHS["vin"]
SPEED = VSS_PATHS["speed"]
DTCS = VSS_PATHS["dtcs"]
VALID: dict[str, Any] = {
    "schema_version": 1,
    VIN_KEY: "1HGCM82633A004352",
    "seq": 41,
    "event_time": "2026-11-25T08:30:00.250Z",
    "trip_id": "trip-7",
    SPEED: 72.5,
    VSS_PATHS["heading"]: 271.0,
    VSS_PATHS["coolant_temp"]: 91.0,
    VSS_PATHS["tyre_front_left"]: 230.0,
    DTCS: ["P0301"],
}


def pydantic_only(raw: bytes | str) -> TelemetryEvent | None:
    try:
        return TelemetryEvent.model_validate_json(raw, by_alias=True, by_name=False)
    except ValidationError:
        return None


def same(a: Any, b: Any) -> bool:
    """Equal values of one type; floats to the sign of a zero, times to their offset."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    return bool(a == b)


def assert_agree(raw: bytes | str) -> str:
    """Which decoder took ``raw`` ("fast", "pydantic" or "refused"), after checking they agree."""
    fast, model = _FAST.decode(raw), pydantic_only(raw)
    if fast is not None:
        assert model is not None, f"the fast path took what the contract refuses: {raw!r}"
        for name in TelemetryEvent.model_fields:
            assert same(getattr(fast, name), getattr(model, name)), name
        assert fast.event_time.utcoffset() == timedelta(0)
    # Whatever the route, decode_values gives the contract's values or its error.
    try:
        expected: Any = decode_event(raw)
    except ContractError as exc:
        with pytest.raises(ContractError) as got:
            decode_values(raw)
        assert (got.value.reason, got.value.field, str(got.value)) == (
            exc.reason,
            exc.field,
            str(exc),
        )
        return "refused"
    values = decode_values(raw)
    assert all(same(getattr(values, n), getattr(expected, n)) for n in TelemetryEvent.model_fields)
    return "fast" if fast is not None else "pydantic"


def with_token(key: str, token: str) -> str:
    """The valid record with ``key``'s value replaced by a raw JSON token."""
    return json.dumps({**VALID, key: "@@"}).replace('"@@"', token)


@pytest.mark.parametrize(
    ("raw", "route"),
    [
        (json.dumps(VALID), "fast"),
        (with_token(SPEED, "72"), "fast"),  # an integer where a float goes: 72.0 on both
        (with_token(SPEED, "1e-400"), "fast"),
        (with_token(SPEED, "400"), "fast"),
        (with_token(SPEED, "400.0000000001"), "refused"),
        (with_token(SPEED, "1e400"), "refused"),
        (with_token(SPEED, "NaN"), "refused"),
        (with_token(SPEED, "true"), "refused"),
        (with_token(SPEED, '"72.5"'), "refused"),
        (with_token(SPEED, "null"), "pydantic"),  # allowed by the contract; left to pydantic
        (with_token("seq", "9223372036854775807"), "fast"),
        (with_token("seq", "9223372036854775808"), "refused"),
        (with_token("seq", "41.0"), "refused"),
        (with_token("schema_version", "true"), "pydantic"),
        (with_token("schema_version", "2"), "refused"),
        (json.dumps({k: v for k, v in VALID.items() if k != "schema_version"}), "pydantic"),
        (with_token(VIN_KEY, '"1HGCM82633A004352\\n"'), "refused"),  # `$` before a newline
        (with_token(VIN_KEY, '"1HGCM82633A00435\\u0032"'), "fast"),
        (with_token(VIN_KEY, '"1HGCM82633A00435٢"'), "refused"),  # an Arabic-Indic digit
        (with_token("trip_id", '"trip\\n"'), "refused"),
        (with_token("trip_id", '""'), "refused"),
        (with_token("trip_id", json.dumps("t" * 65)), "refused"),
        (with_token(DTCS, json.dumps(["P0301"] * 33)), "refused"),
        (with_token(DTCS, '["P0301\\n"]'), "refused"),
        (with_token("event_time", '"2026-11-25T08:30:00+05:30"'), "fast"),
        (with_token("event_time", '"2026-11-25T08:30:00.9999995Z"'), "pydantic"),  # truncated
        (with_token("event_time", '"2026-11-25 08:30:00Z"'), "pydantic"),
        (with_token("event_time", '"2026-11-25T08:30:00"'), "refused"),  # no time zone
        (with_token("event_time", '"2100-01-01T00:00:00Z"'), "refused"),
        (with_token("event_time", '"2026-02-30T00:00:00Z"'), "refused"),
        (with_token("event_time", "1764059400"), "refused"),
        (with_token("event_time", '"2026-11-25T08:30:00+05:75"'), "refused"),  # minute 75
        (with_token("event_time", '"2026-11-25T08:30:00-0075"'), "refused"),
        (with_token("event_time", '"2026-11-25T08:30:00+00:60"'), "refused"),
        (with_token("event_time", '"2026-11-25T08:30:00+23:59"'), "fast"),
        (with_token("event_time", '"0001-01-01T00:00:00+01:00"'), "refused"),  # before year 1
        (with_token("event_time", '"9999-12-31T23:59:59-01:00"'), "refused"),  # after 9999
        (json.dumps({**VALID, "vin": "1HGCM82633A004352"}), "refused"),  # Python names
        (json.dumps(VALID).replace(f'"{SPEED}"', f'"{SPEED}": 900, "{SPEED}"'), "pydantic"),
        (json.dumps(VALID).replace(f'"{SPEED}"', f'"{SPEED}": 1, "{SPEED}"'), "fast"),
        (json.dumps(VALID) + "x", "refused"),
        ("\ufeff" + json.dumps(VALID), "refused"),
        (json.dumps(VALID).encode().replace(b'"trip-7"', b'"trip\xff"'), "refused"),
    ],
)
def test_a_hand_made_record_takes_the_expected_route_and_both_agree(
    raw: str | bytes, route: str
) -> None:
    assert assert_agree(raw) == route


# Tokens around each constraint's edges, for any field: the property test puts them
# anywhere, so a field added to the contract is covered by the same test.
TOKENS = [
    "0", "-0", "1", "-1", "0.5", "1e2", "-30", "30.0000001", "90", "-90.5", "180", "359.99",
    "360", "2000", "5000000", "1e400", "9223372036854775807", "1.0", "true", "false",
    "null", '"x"', '""', '"P0301"', '"p0301"', "[]", '["P0301", "C1234"]', '["X"]', "{}",
    '"2026-11-25T08:30:00Z"', '"2026-11-25T08:30:00.1234567+01:00"', '"trip.7:a-b_c"',
    '"1HGCM82633A004352"', '"1HGCM82633A004352\\n"', '"2026-11-25T08:30:00+05:75"',
    '"0001-01-01T00:00:00+01:00"', "-0.0", "4E2",
]  # fmt: skip
KEYS = [*VALID, *VSS_PATHS.values(), "vin", "speed", "unknown"]


@settings(max_examples=400, deadline=None)
@given(
    changes=st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(TOKENS)), max_size=4),
    dropped=st.sets(st.sampled_from(list(VALID))),
)
def test_for_any_record_the_fast_path_agrees_with_pydantic(
    changes: list[tuple[str, str]], dropped: set[str]
) -> None:
    parts = [json.dumps(k) + ": " + json.dumps(v) for k, v in VALID.items() if k not in dropped]
    parts += [json.dumps(k) + ": " + token for k, token in changes]  # repeats a key at times
    assert_agree("{" + ", ".join(parts) + "}")


FLOAT_KEYS = [VSS_PATHS[n] for n, f in TelemetryEvent.model_fields.items() if "float" in str(f)]


@settings(max_examples=300, deadline=None)
@given(
    key=st.sampled_from(FLOAT_KEYS),
    number=st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**70), 2**70),
    when=st.datetimes(),  # naive, any year: only its wall-clock digits are written
    offset=st.tuples(st.integers(0, 30), st.integers(0, 99), st.sampled_from("+-")),
    decimals=st.text("0123456789", max_size=9),
    colon=st.booleans(),
)
def test_for_any_number_and_event_time_the_fast_path_agrees_with_pydantic(
    key: str,
    number: float,
    when: datetime,
    offset: tuple[int, int, str],
    decimals: str,
    colon: bool,
) -> None:
    hours, minutes, sign = offset
    zone = f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S") + (f".{decimals}" if decimals else "") + zone
    assert_agree(json.dumps({**VALID, key: number, "event_time": stamp}))


def test_only_bytes_and_text_take_the_fast_path() -> None:
    raw = json.dumps(VALID).encode()
    assert _FAST.decode(raw) is not None
    assert _FAST.decode(memoryview(raw)) is None  # pydantic refuses a memoryview


def test_an_oversized_record_is_refused_before_either_decoder() -> None:
    padded = json.dumps(VALID)[:-1] + " " * MAX_RECORD_BYTES + "}"
    with pytest.raises(ContractError) as got:
        decode_values(padded)
    assert got.value.reason == "oversized"


def test_the_simulator_s_records_all_take_the_fast_path() -> None:
    sim = Simulation(cars=20, hz=1.0, duration_s=300, start=SEEDED_START, seed=5, fault_rate=0.5)
    records = [value for batch in sim for _, value in batch.records]
    assert len(records) > 5000
    assert all(_FAST.decode(value) is not None for value in records)
    for value in records[::97]:
        assert assert_agree(value) == "fast"


def _plain(tp: Any) -> Any:
    """A field annotation without its constraints (what a reader of the value sees)."""
    if tp is AwareDatetime:
        return datetime
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _plain(typing.get_args(tp)[0])
    if origin is typing.Literal:
        return type(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(_plain(a) for a in typing.get_args(tp))]  # noqa: UP007
    if origin is tuple:
        return tuple[tuple(_plain(a) if a is not Ellipsis else a for a in typing.get_args(tp))]
    return tp


def test_the_values_protocol_lists_the_contract_s_fields_and_types() -> None:
    protocol = {
        name: typing.get_type_hints(prop.fget)["return"]
        for name, prop in vars(TelemetryValues).items()
        if isinstance(prop, property)
    }
    model = {name: _plain(f.annotation) for name, f in TelemetryEvent.model_fields.items()}
    assert protocol == model


STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


def _check(value: float) -> float:
    return value


_CHECK = staticmethod(_check)


def _model(annotation: Any, *, config: ConfigDict = STRICT, **namespace: Any) -> type[BaseModel]:
    """A one-field model ``x`` with the given annotation, config and class body."""
    body = {"__annotations__": {"x": annotation}, "model_config": config, **namespace}
    return typing.cast(type[BaseModel], type("Probe", (BaseModel,), body))


class _Inner(BaseModel):
    model_config = STRICT
    y: float


A = typing.Annotated
Config = ConfigDict
NOT, DT, RE, GIVEN = "does not repeat", "aware date-times", "Python and Rust", "not given"
REFUSED = {  # each probe, and what the refusal names
    "lax model": (_model(float, config=Config(extra="forbid", allow_inf_nan=False)), "strict"),
    "extra keys allowed": (_model(float, config=Config(strict=True, allow_inf_nan=False)), "extra"),
    "NaN allowed": (_model(float, config=Config(strict=True, extra="forbid")), "allow_inf_nan"),
    "strings stripped": (_model(str, config={**STRICT, "str_strip_whitespace": True}), "str_"),
    "a lax field": (_model(A[float, Field(strict=False)]), NOT),
    "a union": (_model(float | str), NOT),
    "a list": (_model(list[str]), NOT),
    "a nested model": (_model(_Inner), "nested"),
    "a multiple of": (_model(A[float, Field(multiple_of=2)]), NOT),
    "an upper-cased string": (_model(A[str, StringConstraints(to_upper=True)]), NOT),
    "a naive date-time": (_model(NaiveDatetime), DT),
    "a bounded date-time": (_model(A[AwareDatetime, Field(gt=EARLIEST_EVENT_TIME)]), DT),
    "a Unicode class": (_model(A[str, Field(pattern=r"^\w+$")]), RE),
    "an alternation": (_model(A[str, Field(pattern=r"^a$|^b$")]), RE),
    "an escaped final dollar": (_model(A[str, Field(pattern=r"^a\$")]), "anchored"),
    "an alias path": (_model(A[float, Field(validation_alias=AliasPath("a", 0))]), "alias"),
    "a validator in Annotated": (_model(A[float, AfterValidator(_check)]), GIVEN),
    "a before validator": (_model(float, _v=field_validator("x", mode="before")(_CHECK)), NOT),
    "a model validator": (_model(float, _v=model_validator(mode="after")(lambda m: m)), GIVEN),
    "a post-init": (_model(float, model_post_init=lambda self, context: None), NOT),
}  # fmt: skip


@pytest.mark.parametrize("name", REFUSED)
def test_a_model_the_fast_path_cannot_mirror_is_refused_at_import(name: str) -> None:
    model, reason = REFUSED[name]
    with pytest.raises(TypeError, match=reason):
        FastDecoder(model, checks={})


def test_a_check_must_be_the_very_validator_the_model_registers() -> None:
    FastDecoder(_model(float), checks={})  # what every refused probe above departs from
    registered = _model(float, _v=field_validator("x")(staticmethod(_check)))
    FastDecoder(registered, checks={"x": _check})  # the same function: taken
    with pytest.raises(TypeError, match="validator"):
        FastDecoder(registered, checks={})
    with pytest.raises(TypeError, match="validator"):
        FastDecoder(registered, checks={"x": lambda value: value})
    twice = _model(
        float,
        _v=field_validator("x")(staticmethod(_check)),
        _w=field_validator("x")(staticmethod(_check)),
    )
    with pytest.raises(TypeError, match="one validator"):
        FastDecoder(twice, checks={"x": _check})
    with pytest.raises(TypeError, match="validator"):
        FastDecoder(TelemetryEvent, checks={})


def test_the_fast_path_returns_the_event_time_in_utc() -> None:
    got = decode_values(with_token("event_time", '"2026-11-25T10:30:00+02:00"'))
    assert got.event_time == datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    assert got.event_time.tzinfo is UTC
