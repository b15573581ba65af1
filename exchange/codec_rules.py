"""Checks the codec adds to fastavro's writer, compiled once per schema.

fastavro's writer already rejects wrong strings, bytes, enums, unions, records and missing
fields (cheaply, in C), but it silently accepts some values Avro forbids: ``"no"`` for a
boolean (written as true), ``1.7`` for an int (truncated), ints beyond 32 bits. It also knows
nothing of our identifier and format rules. :func:`compile_checks` turns an expanded schema into
one closure that checks exactly those, so the hot path does no schema walking.

:func:`explain` is the slow path: after fastavro refused a record, it walks the record against
the schema in pure Python and names the first offending field path and rule.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from exchange import identifiers
from exchange.errors import InvalidIdentifier

Check = Callable[[Any], None]
INT_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
IDENTIFIER_VALIDATORS: dict[str, Callable[..., str]] = {
    "credit_code": identifiers.validate_credit_code,
    "unit_number": identifiers.validate_unit_number,
    "resident_id": identifiers.validate_resident_id,
    "case_id": identifiers.validate_case_id,
}


class Invalid(Exception):
    """A rule broken at ``path`` (segments collected while the exception unwinds)."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule
        self.path: list[str] = []

    def field(self) -> str:
        """The dotted field path, array items as ``[i]``."""
        return "".join(
            seg if seg.startswith("[") or i == 0 else f".{seg}" for i, seg in enumerate(self.path)
        )


def show(value: Any) -> str:
    """A short representation of a value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_bool(value: Any) -> None:
    if value is not True and value is not False:
        raise Invalid(f"expected boolean, got {show(value)}")


def _integer(kind: str, bounds: tuple[int, int]) -> Check:
    low, high = bounds

    def check(value: Any) -> None:
        if type(value) is not int or not low <= value <= high:
            raise Invalid(f"expected {kind} ({low}..{high}), got {show(value)}")

    return check


def _identifier(kind: str) -> Check:
    validator = IDENTIFIER_VALIDATORS[kind]
    # The validators remember the codes they accepted, except personal numbers, which are
    # checked every time (see identifiers._remember_valid): one memory, one rule for it.

    def check(value: Any) -> None:
        try:
            validator(value, strict=True)
        except InvalidIdentifier as exc:
            raise Invalid(str(exc)) from exc

    return check


def _check_uuid(value: Any) -> None:
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise Invalid(f"expected a UUID, got {show(value)}")


def field_checks(field: Mapping[str, Any]) -> list[Check]:
    """Rules a field's attributes add to its type: ``identifier`` kind, ``"format": "uuid"``."""
    checks: list[Check] = []
    if field.get("identifier"):
        checks.append(_identifier(field["identifier"]))
    if field.get("format") == "uuid":
        checks.append(_check_uuid)
    return checks


def _type_check(schema: Any, names: dict[str, Any], types: bool = True) -> Check | None:
    if isinstance(schema, list):
        checks = [_type_check(b, names, types) for b in schema if b != "null"]
        if len(checks) == 1:
            return checks[0]  # None is skipped by the caller; only ["null", T] unions occur
        return None  # general unions: fastavro picks the branch; explain() covers errors
    if isinstance(schema, str):
        if schema in names:
            return _type_check(names[schema], names, types)
        if not types:
            return None
        return {"boolean": _check_bool, "int": _integer("int", INT_RANGE),
                "long": _integer("long", LONG_RANGE)}.get(schema)
    kind = schema.get("type")
    if kind in ("record", "error", "enum", "fixed"):
        names[schema["name"]] = schema
    if kind in ("record", "error"):
        return _record_check(schema, names, types)
    if kind == "array":
        inner = _type_check(schema["items"], names, types)
        return None if inner is None else _array_check(inner)
    if not types:
        return None
    if kind in ("int", "long") and "logicalType" not in schema:
        return _type_check(kind, names)
    if kind == "boolean":
        return _check_bool
    return None


def _array_check(inner: Check) -> Check:
    def check(value: Any) -> None:
        if isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if item is None:
                    continue
                try:
                    inner(item)
                except Invalid as exc:
                    exc.path.insert(0, f"[{i}]")
                    raise

    return check


def _record_check(schema: Mapping[str, Any], names: dict[str, Any], types: bool
                  ) -> Check | None:
    plan: list[tuple[str, Check]] = []
    for field in schema["fields"]:
        checks = [c for c in (_type_check(field["type"], names, types),) if c is not None]
        if types:
            checks.extend(field_checks(field))
        elif field.get("identifier"):
            checks.append(_identifier(field["identifier"]))
        plan.extend((field["name"], c) for c in checks)
    if not plan:
        return None

    def check(value: Any) -> None:
        if type(value) is not dict and not isinstance(value, Mapping):  # decoded: a dict
            return  # fastavro reports a non-record
        get = value.get
        for name, field_check in plan:
            item = get(name)
            if item is None:
                continue  # missing or null: fastavro decides whether that is allowed
            try:
                field_check(item)
            except Invalid as exc:
                exc.path.insert(0, name)
                raise

    return check


def compile_checks(source: Mapping[str, Any], *, identifiers_only: bool = False) -> Check:
    """One closure for an expanded record schema; raises :class:`Invalid` on the first rule.

    With ``identifiers_only`` it checks the identifier fields and nothing else (for records
    that were decoded, hence already conform to their schema).
    """
    check = _record_check(source, {}, not identifiers_only)
    return check if check is not None else (lambda value: None)


def explain(schema: Any, value: Any, names: dict[str, Any] | None = None) -> Invalid | None:
    """Why ``value`` does not conform to ``schema`` (an expanded schema), or None if it does."""
    names = {} if names is None else names
    if isinstance(schema, list):
        problems = [explain(branch, value, names) for branch in schema]
        if any(p is None for p in problems):
            return None
        real = [p for b, p in zip(schema, problems, strict=True) if b != "null"]
        if len(real) == 1 and value is not None:
            return real[0]
        return Invalid(f"{show(value)} matches none of the union's branches")
    if isinstance(schema, str):
        if schema in names:
            return explain(names[schema], value, names)
        return _explain_primitive(schema, value)
    kind = schema["type"]
    if kind in ("record", "error", "enum", "fixed"):
        names[schema["name"]] = schema
    if kind in ("record", "error"):
        return _explain_record(schema, value, names)
    if kind == "enum":
        if value in schema["symbols"]:
            return None
        return Invalid(f"expected one of {', '.join(schema['symbols'])}, got {show(value)}")
    if kind == "array":
        if not isinstance(value, list | tuple):
            return Invalid(f"expected an array, got {show(value)}")
        for i, item in enumerate(value):
            problem = explain(schema["items"], item, names)
            if problem is not None:
                problem.path.insert(0, f"[{i}]")
                return problem
        return None
    if kind == "map":
        if not isinstance(value, Mapping):
            return Invalid(f"expected a map, got {show(value)}")
        for key, item in value.items():
            problem = explain(schema["values"], item, names)
            if problem is not None:
                problem.path.insert(0, f"[{key!r}]")
                return problem
        return None
    if schema.get("logicalType") in LOGICAL_TYPES:
        return _explain_logical(schema, value)
    return _explain_primitive(kind, value)


def _explain_record(schema: Mapping[str, Any], value: Any, names: dict[str, Any]) -> Invalid | None:
    if not isinstance(value, Mapping):
        return Invalid(f"expected a record {schema['name']}, got {show(value)}")
    known = {f["name"] for f in schema["fields"]}
    extra = sorted(str(k) for k in value if k not in known)
    if extra:
        unknown = Invalid("not a field of the schema")
        unknown.path.append(extra[0])
        return unknown
    for field in schema["fields"]:
        name = field["name"]
        problem: Invalid | None
        if name not in value:
            if "default" in field:
                continue
            problem = Invalid("missing (required, no default)")
        else:
            problem = explain(field["type"], value[name], names)
        if problem is not None:
            problem.path.insert(0, name)
            return problem
    return None


LOGICAL_TYPES = frozenset({"decimal", "date", "timestamp-millis", "timestamp-micros"})


def _explain_logical(schema: Mapping[str, Any], value: Any) -> Invalid | None:
    logical = schema.get("logicalType")
    if logical == "decimal":
        scale, precision = schema.get("scale", 0), schema["precision"]
        expected = f"expected decimal with scale {scale}"
        if not isinstance(value, Decimal) or not value.is_finite():
            return Invalid(f"{expected}, got {show(value)}")
        sign, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        if -exponent > scale:
            return Invalid(f"{expected}, got {value} with scale {-exponent}")
        if len(digits) + exponent + scale > precision and value != 0:
            return Invalid(f"decimal {value} exceeds precision {precision}")
        return None
    if logical == "date":
        if isinstance(value, dt.date) or type(value) is int:
            return None
        return Invalid(f"expected a date (datetime.date), got {show(value)}")
    if logical in ("timestamp-millis", "timestamp-micros"):
        if isinstance(value, dt.datetime) or type(value) is int:
            return None
        return Invalid(f"expected an instant (datetime.datetime), got {show(value)}")
    return None


def _explain_primitive(kind: str, value: Any) -> Invalid | None:
    ok = {
        "null": value is None,
        "boolean": isinstance(value, bool),
        "int": type(value) is int and INT_RANGE[0] <= value <= INT_RANGE[1],
        "long": type(value) is int and LONG_RANGE[0] <= value <= LONG_RANGE[1],
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "double": isinstance(value, int | float) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "bytes": isinstance(value, bytes | bytearray),
    }.get(kind, True)
    return None if ok else Invalid(f"expected {kind}, got {show(value)}")
