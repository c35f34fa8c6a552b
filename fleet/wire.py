"""A fast path for reading JSON records of a pydantic model, derived from its schema.

Pydantic decides what the telemetry contract accepts, and its
``model_validate_json`` (about 5 us a record, 8 in a busy worker) was the
largest single cost of the hot path. msgspec checks the same constraints in
about 2 us. `FastDecoder` lets it take the common case without becoming a
second contract:

- Its msgspec struct is generated from the model's JSON Schema, so a field or
  a bound added to the model reaches the fast path by itself. Anything the
  model's validation does that the struct would not repeat (found in
  pydantic's own core schema: a validator, a string transform, a lax field,
  a bound on a date-time, a pattern Python and Rust read apart) fails the
  import with `TypeError` rather than being skipped.
- It only ever *accepts*. `FastDecoder.decode` returns None for anything
  msgspec refuses, and the caller then asks pydantic: every rejection (and the
  reason on the dead letter) is pydantic's, and a record pydantic accepts in a
  form msgspec does not still gets through, as a model.
- Where the two libraries differ it is stricter than pydantic: a pattern's
  final ``$`` becomes ``\\Z`` (Python's ``$`` also matches before a trailing
  newline, pydantic's Rust regex does not); date-times must be RFC 3339 with
  a ``T``, a time zone of at most 23:59 and at most six decimals (Python
  reads an offset of +05:75, and a seventh decimal, which pydantic refuses or
  truncates); an optional field sent as ``null`` and a defaulted field left
  out go to pydantic, and so does anything but ``bytes`` or ``str``.

What it returns is a frozen msgspec struct with the model's attribute names
and the values the model would hold, not the model itself: building the model
around the values cost as much as pydantic's own decoding.
`tests/unit/fleet/test_wire.py` gives both decoders the same generated and
hand-made records and checks they agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel

Check = Callable[[Any], Any]
"""A field's after-validator as a plain function: the value to keep, or ValueError."""

DATE_TIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])\Z"
)
"""The date-times the fast path takes (then read by `datetime.fromisoformat`). That
reads more (an offset of +05:75, a seventh decimal), which pydantic refuses or
truncates: those go to pydantic."""
_BOUNDS = {"minimum": "ge", "maximum": "le", "exclusiveMinimum": "gt", "exclusiveMaximum": "lt"}
_LENGTHS = {"minLength": "min_length", "maxLength": "max_length", "maxItems": "max_length"}
_KNOWN = {"type", "title", "description", "default", "pattern", "format", "items", "const"}


_UNLIKE = re.compile(r"\\[wWdDsSbBpPAzZ]|\||\(\?|\[\[:|\$|(?<!\[)\^")
"""Pattern syntax that Python's `re` (msgspec) and pydantic's Rust regex read apart:
Unicode classes, alternation around anchors, flags, POSIX classes, inner anchors."""


def _pattern(pattern: str) -> str:
    body = pattern[1:-1]
    if not (pattern.startswith("^") and pattern.endswith("$")) or body.endswith("\\"):
        raise TypeError(f"pattern {pattern!r} is not anchored as ^...$")
    if not body.isascii() or _UNLIKE.search(body):
        raise TypeError(f"pattern {pattern!r} may match differently in Python and Rust")
    return pattern[:-1] + r"\Z"


def _type_of(prop: Mapping[str, Any], where: str) -> Any:
    """The msgspec type of one JSON Schema property."""
    unknown = set(prop) - _KNOWN - set(_BOUNDS) - set(_LENGTHS)
    if unknown:
        raise TypeError(f"{where}: no fast path for schema keys {sorted(unknown)}")
    kind = prop.get("type")
    if "const" in prop:
        return Literal[prop["const"]]
    meta: dict[str, Any] = {}
    if kind in ("integer", "number"):
        meta = {_BOUNDS[k]: v for k, v in prop.items() if k in _BOUNDS}
        if kind == "integer" and "lt" in meta:  # msgspec's integer bounds stop at int64
            meta["le"] = meta.pop("lt") - 1
        base: Any = int if kind == "integer" else float
    elif kind == "string" and prop.get("format") == "date-time":
        base, meta = str, {"pattern": DATE_TIME}  # parsed by FastDecoder.decode
    elif kind == "string" and "format" not in prop:
        meta = {_LENGTHS[k]: v for k, v in prop.items() if k in ("minLength", "maxLength")}
        if "pattern" in prop:
            meta["pattern"] = _pattern(prop["pattern"])
        base = str
    elif kind == "array" and "items" in prop:
        base = tuple[_type_of(prop["items"], f"{where}[]"), ...]  # type: ignore[misc]
        if "maxItems" in prop:
            meta["max_length"] = prop["maxItems"]
    else:
        raise TypeError(f"{where}: no fast path for {dict(prop)}")
    return Annotated[base, msgspec.Meta(**meta)] if meta else base


def _variant(prop: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """An optional field's schema is ``anyOf [T, null]``: the fast path takes T only."""
    if "anyOf" not in prop:
        return prop
    variants = [p for p in prop["anyOf"] if p != {"type": "null"}]
    if len(variants) != 1 or set(prop) - {"anyOf", "default", "title", "description"}:
        raise TypeError(f"{where}: no fast path for {dict(prop)}")
    return variants[0]


def _fields(model: type[BaseModel]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(attribute, wire name, schema) of each field."""
    schema = model.model_json_schema(by_alias=True)  # nested models: refused by `_audit`
    fields = []
    for name, info in model.model_fields.items():
        wire = info.alias or name
        where = f"{model.__name__}.{name}"
        fields.append((name, wire, _variant(schema["properties"][wire], where)))
    return fields


_NODES = {
    "model", "model-fields", "model-field", "default", "nullable", "literal", "str", "int",
    "float", "tuple", "datetime", "function-after",
}  # fmt: skip
_CHANGES = {
    "strip_whitespace", "to_lower", "to_upper", "coerce_numbers_to_str",
    "multiple_of", "now_op", "now_utc_offset", "custom_init", "root_model", "post_init",
}  # fmt: skip
"""Keys of pydantic's core schema that change or refuse values the JSON Schema does not show."""


def _audit(model: type[BaseModel], checks: Mapping[str, Check]) -> None:
    """TypeError unless validating ``model`` is what the fast path repeats.

    Walks pydantic's own (core) schema, which also holds what the JSON Schema
    leaves out: validators in ``Annotated``, string transforms, lax fields.
    """
    config = model.model_config
    if not config.get("strict") or config.get("extra") != "forbid":
        raise TypeError(f"{model.__name__}: the fast path needs strict=True and extra='forbid'")
    if config.get("allow_inf_nan", True) or any(k.startswith("str_") for k in config):
        raise TypeError(f"{model.__name__}: allow_inf_nan=False and no str_* settings")
    validated: list[str] = []

    def walk(node: Mapping[str, Any], field: str | None) -> None:
        kind, where = node["type"], f"{model.__name__}.{field or ''} ({node['type']})"
        if (
            kind not in _NODES
            or node.get("strict") is False
            or any(node.get(key) for key in _CHANGES)
            or node.get("regex_engine", "rust-regex") != "rust-regex"
        ):
            raise TypeError(f"{where}: the fast path does not repeat this validation")
        if kind == "model" and field is not None:
            raise TypeError(f"{where}: no fast path for nested models")
        if kind == "datetime" and (
            node.get("tz_constraint") != "aware"
            or {"lt", "le", "gt", "ge"} & set(node)
            or node.get("microseconds_precision", "truncate") != "truncate"
        ):
            raise TypeError(f"{where}: the fast path takes aware date-times without bounds")
        if kind == "model-field" and not isinstance(node.get("validation_alias", ""), str):
            raise TypeError(f"{where}: no fast path for alias paths or choices")
        if kind == "function-after":
            function = node["function"]
            if field is None or function.get("function") is not checks.get(field):
                raise TypeError(f"{where}: a validator the fast path is not given")
            validated.append(field)
        if kind == "model-fields":
            for name, child in node["fields"].items():
                walk(child, name)
        for key in ("schema", "items_schema"):
            children = node.get(key)
            for child in children if isinstance(children, list) else [children]:
                if isinstance(child, Mapping):
                    walk(child, field)

    walk(model.__pydantic_core_schema__, None)
    if sorted(validated) != sorted(checks):
        raise TypeError(f"{model.__name__}: each check must be its field's one validator")


class FastDecoder:
    """Reads the JSON records of ``model`` that msgspec can vouch for.

    ``checks`` are the model's after-validators by field name: the very
    functions the model registers (``field_validator(name)(staticmethod(f))``),
    so the two cannot drift apart. A model whose validation does anything
    else the fast path does not repeat is refused (`_audit`).
    """

    def __init__(self, model: type[BaseModel], *, checks: Mapping[str, Check]) -> None:
        _audit(model, checks)
        fields = _fields(model)
        struct = msgspec.defstruct(
            f"Fast{model.__name__}",
            [
                # Left out means None; a field with any other default must be sent.
                (name, kind, None) if model.model_fields[name].default is None else (name, kind)
                for name, kind in ((n, _type_of(p, f"{model.__name__}.{n}")) for n, _, p in fields)
            ],
            rename={name: wire for name, wire, _ in fields},
            forbid_unknown_fields=True,
            kw_only=True,
            frozen=True,
        )
        self._decoder = msgspec.json.Decoder(struct)
        steps: list[tuple[str, Check]] = [
            (name, datetime.fromisoformat)
            for name, _, prop in fields
            if prop.get("format") == "date-time"
        ]
        self._steps = tuple(steps + list(checks.items()))

    def decode(self, raw: bytes | str) -> Any | None:
        """The record as a struct of the model's values, or None: then pydantic decides."""
        if type(raw) is not bytes and type(raw) is not str:  # memoryview: pydantic refuses it
            return None
        try:
            record = self._decoder.decode(raw)
            for name, step in self._steps:
                _set(record, name, step(getattr(record, name)))
        except (msgspec.MsgspecError, ValueError):
            return None
        return record


_set = msgspec.structs.force_setattr
