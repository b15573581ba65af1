"""What a role receives of a case or a record: service values made JSON-able and cut by role.

Every case and record the web layer sends passes through here, so :mod:`exchange.privacy` is
applied in exactly one place for the pages and the API alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from exchange.errors import InvalidIdentifier
from exchange.identifiers import validate_credit_code, validate_unit_number
from exchange.privacy import PolicySource, mask_form, mask_record, scrub_value

RECORD_KINDS = ("enterprise", "property")


def plain(value: Any) -> Any:
    """A JSON-able copy of ``value`` (dataclasses, mappings, instants, decimals, enums)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return plain(value.value)
    return value


def summary_view(summary: Any, role: str) -> dict[str, Any]:
    """A queue row as ``role`` may see it (the subject may be a person's name: scrubbed)."""
    return dict(scrub_value(plain(summary), role))


def case_view(detail: Any, role: str, registry: PolicySource) -> dict[str, Any]:
    """A case as ``role`` may see it: the form cut by :func:`mask_form`, the rest scrubbed."""
    data = plain(detail)
    if isinstance(data.get("summary"), dict):  # a nested summary: flatten it
        data = {**data.pop("summary"), **data}
    data["form"] = mask_form(data.get("form") or {}, role, registry)
    data["record_ref"] = record_ref(data)
    return dict(scrub_value(data, role))


def record_view(record: Mapping[str, Any], role: str, registry: PolicySource) -> dict[str, Any]:
    """A unified record as ``role`` may see it (:func:`mask_record`)."""
    return mask_record(plain(record), role, registry)


def record_ref(case: Mapping[str, Any]) -> dict[str, str] | None:
    """The unified record a case is about (kind, key), once its key is known.

    The key is the case's subject when that is a valid identifier (a start-up case submitted
    with a pending name gets its credit code when the licence is issued)."""
    kind = "property" if case.get("case_type") == "transfer" else "enterprise"
    validate = validate_unit_number if kind == "property" else validate_credit_code
    for candidate in (case.get("key"), case.get("subject")):
        try:
            return {"kind": kind, "key": validate(str(candidate))}
        except InvalidIdentifier:
            continue
    return None


def time_left_text(seconds: float | int | None) -> str:
    """``2h 05m`` left, or ``overdue 1h 10m`` (超时), for the queue and the case page."""
    if seconds is None:
        return "—"
    s = int(abs(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    text = (f"{days}d " if days else "") + f"{hours}h {rest // 60:02d}m"
    return f"超时 overdue {text}" if seconds < 0 else text


def completeness_rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per department: arrived and missing event types, and a percentage."""
    rows = []
    for department, state in sorted((record.get("completeness") or {}).items()):
        arrived, missing = list(state.get("arrived", [])), list(state.get("missing", []))
        total = len(arrived) + len(missing)
        rows.append({"department": department, "arrived": arrived, "missing": missing,
                     "percent": 100 if not total else round(100 * len(arrived) / total)})
    return rows
