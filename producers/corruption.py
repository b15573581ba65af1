"""Breaking events the way a bad department producer breaks them, saying how.

A :class:`Corruption` names one field path and what was done to it, so the same damage can be
applied to the in-memory record and to its Avro JSON form (which fastavro cannot write for a
record with a missing field or a wrong type). Reasons read ``<kind>: <field path>``, e.g.
``invalid_credit_code: credit_code`` or ``missing_field: owners[0].id_number``.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from exchange.identifiers import (
    corrupt_credit_code_check,
    corrupt_resident_id_check,
    corrupt_unit_number,
)

KINDS = (
    "invalid_credit_code",
    "invalid_unit_number",
    "invalid_resident_id",
    "wrong_type",
    "missing_field",
)
_DELETE = object()
# fields with a null default (deleting them is not an error)
_OPTIONAL = frozenset(
    {
        "payer_credit_code",
        "payer_id_number",
        "name",
        "registered_address",
        "legal_representative_name",
        "legal_representative_id",
        "registered_capital",
        "business_scope",
    }
)
Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Corruption:
    """One field (``path``) set to ``value`` or deleted; ``rekey`` also sets the envelope key."""

    kind: str
    path: Path
    value: Any
    rekey: bool = False

    @property
    def reason(self) -> str:
        """``<kind>: <field path>`` with array items as ``[i]``."""
        text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)
        return f"{self.kind}: {text[1:]}"

    def apply(self, record: dict[str, Any], *, json_form: bool = False) -> dict[str, Any]:
        """A corrupted deep copy of ``record`` (in-memory form, or Avro JSON form)."""
        broken = copy.deepcopy(record)
        parent: Any = broken
        for step in self.path[:-1]:
            parent = parent[step]
        last = self.path[-1]
        if self.value is _DELETE:
            del parent[last]
        elif json_form and isinstance(parent[last], dict) and len(parent[last]) == 1:
            parent[last] = {next(iter(parent[last])): self.value}  # keep the union branch
        else:
            parent[last] = self.value
        if self.rekey:
            broken["envelope"]["key"] = self.value
        return broken


def _identifier_paths(record: dict[str, Any]) -> list[tuple[str, Path, str]]:
    found: list[tuple[str, Path, str]] = []
    for name, value in record.items():
        if name in ("credit_code", "payer_credit_code") and value:
            found.append(("invalid_credit_code", (name,), value))
        elif name == "unit_number":
            found.append(("invalid_unit_number", (name,), value))
        elif name in ("legal_representative_id", "payer_id_number") and value:
            found.append(("invalid_resident_id", (name,), value))
        elif name in ("owners", "buyers", "sellers"):
            for i, owner in enumerate(value):
                if owner["id_number"]:
                    found.append(
                        ("invalid_resident_id", (name, i, "id_number"), owner["id_number"])
                    )
    return found


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "true"
    if isinstance(value, str):
        return len(value)
    if isinstance(value, int):
        return str(value)  # the classic: numbers as text
    if isinstance(value, Decimal):
        return float(value)  # money as a binary float (in JSON: a number, not decimal bytes)
    if isinstance(value, list):
        return ",".join(map(str, value))
    return None


def choose(rng: random.Random, record: dict[str, Any]) -> Corruption:
    """Pick one way to break ``record`` (every record can be broken in at least one way)."""
    identifiers = _identifier_paths(record)
    fields = [
        n
        for n, v in record.items()
        if n != "envelope" and v is not None and not isinstance(v, date)
    ]
    options: list[str] = ["wrong_type", "missing_field"]
    options += sorted({kind for kind, _, _ in identifiers})
    kind = rng.choice(options)
    if kind == "wrong_type":
        name = rng.choice(fields)
        return Corruption(kind, (name,), _wrong_type(record[name]))
    if kind == "missing_field":
        name = rng.choice([n for n in record if n != "envelope" and n not in _OPTIONAL] or fields)
        return Corruption(kind, (name,), _DELETE)
    _, path, value = rng.choice([i for i in identifiers if i[0] == kind])
    if kind == "invalid_credit_code":
        broken = corrupt_credit_code_check(value, organisation=rng.random() < 0.3, rng=rng)
    elif kind == "invalid_unit_number":
        broken = corrupt_unit_number(value, rng=rng)
    else:
        broken = corrupt_resident_id_check(value, rng=rng)
    return Corruption(kind, path, broken, rekey=path in (("credit_code",), ("unit_number",)))
