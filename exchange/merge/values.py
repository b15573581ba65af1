"""Event body values made JSON-able on the way into a record, and compared on the way out.

Records are stored as JSON (Faust tables) and published as Avro, so nothing but ``str``,
``int``, ``float``, ``bool``, ``None``, ``list`` and ``dict`` may enter one:

- ``Decimal`` -> string with exactly two places (``"1200.50"``), the scale of every money
  field in the schemas (decimal(18, 2));
- ``date`` -> ISO date (``"2024-03-01"``);
- ``datetime`` -> ISO 8601 UTC with milliseconds (``"2024-03-01T08:30:00.000Z"``); naive
  datetimes are taken as UTC, like :func:`exchange.events.from_avro` does;
- mappings and sequences recursively (tuples become lists).

Because every instant has the same fixed-width format, comparing two of these strings
compares the instants; the merge relies on that for ordering.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

_CENT = Decimal("0.01")


def money(amount: Decimal) -> str:
    """A decimal as a string with two places (the scale of the schemas' money fields)."""
    return str(amount.quantize(_CENT))


def instant(moment: datetime) -> str:
    """An instant as ISO 8601 UTC with milliseconds and a ``Z`` suffix."""
    zone = moment.tzinfo  # naive: taken as UTC; UTC (every decoded event's time): no check
    if zone is not UTC and zone is not None and moment.utcoffset():
        moment = moment.astimezone(UTC)
    # What isoformat(timespec="milliseconds") writes before the offset, at half its cost:
    # this runs for every event, and for every date-time value in it.
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031 - f-strings cost more
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
        moment.microsecond // 1000)


def to_json(value: Any) -> Any:
    """Convert a body value (fastavro's in-memory form) into its JSON-able record form.

    Raises ``TypeError`` for a type no schema produces (bytes, sets, objects), naming it.
    """
    kind = type(value)
    if kind in PLAIN:  # the common case first: this runs for every field of every event
        return value
    if kind is dict:
        return {str(k): to_json(v) for k, v in value.items()}
    if kind is list:
        return [to_json(v) for v in value]
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, datetime):  # before date: a datetime is a date
        return instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str | bool | int | float):  # subclasses (str enums)
        return value
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    raise TypeError(f"cannot put a {type(value).__name__} into a unified record")


#: Types :func:`to_json` returns as they are.
PLAIN = frozenset({str, int, bool, float, type(None)})


def normalise_text(text: Any) -> Any:
    """The form in which two departments' spellings of a name or address are compared.

    NFKC folds full-width and half-width forms (``（`` and ``(``), whitespace is dropped and
    case folded, so ``"成都 甲公司（有限）"`` and ``"成都甲公司(有限)"`` agree. Non-strings
    are returned unchanged.
    """
    if not isinstance(text, str):
        return text
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()
