"""Reading the unified record (docs/design.md) as the desk needs it: which facts, from whom.

The desk never trusts arrival order: it reads ``history`` (sorted by ``occurred_at`` then
``event_id``) when present and falls back to ``facts`` (one entry per event type).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Record = Mapping[str, Any]

INACTIVE_STATES = frozenset({"lifted", "released", "cancelled", "canceled", "closed", "inactive"})
"""States of a collection item (mortgage, seizure, objection) that no longer bind."""


@dataclass(frozen=True, slots=True)
class SourceFact:
    """The department fact a step rests on: who said it and when."""

    event_type: str
    department: str
    event_id: str
    occurred_at: datetime

    def to_dict(self) -> dict[str, str]:
        """JSON-able form, kept in timeline entries."""
        return {
            "event_type": self.event_type,
            "department": self.department,
            "event_id": self.event_id,
            "occurred_at": self.occurred_at.isoformat(),
        }


def parse_instant(value: Any) -> datetime:
    """An ISO 8601 string or datetime as an aware datetime (naive means UTC)."""
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def _department(event_type: str, entry: Mapping[str, Any]) -> str:
    return str(entry.get("department") or event_type.split(".", 1)[0])


def facts_of(record: Record, event_type: str) -> list[SourceFact]:
    """Every known occurrence of ``event_type``, oldest first."""
    found = [
        SourceFact(
            event_type,
            _department(event_type, h),
            str(h["event_id"]),
            parse_instant(h["occurred_at"]),
        )
        for h in record.get("history") or ()
        if h.get("event_type") == event_type
    ]
    if not found:
        entry = (record.get("facts") or {}).get(event_type)
        if entry:
            found = [
                SourceFact(
                    event_type,
                    _department(event_type, entry),
                    str(entry["event_id"]),
                    parse_instant(entry["occurred_at"]),
                )
            ]
    return sorted(found, key=lambda f: (f.occurred_at, f.event_id))


def find_fact(
    record: Record, event_type: str, not_before: datetime | None = None
) -> SourceFact | None:
    """The first occurrence of ``event_type`` at or after ``not_before`` (any if ``None``)."""
    for fact in facts_of(record, event_type):
        if not_before is None or fact.occurred_at >= not_before:
            return fact
    return None


def latest_fact(record: Record, event_types: Iterable[str]) -> SourceFact | None:
    """The most recent fact among ``event_types``."""
    facts = [f for t in event_types for f in facts_of(record, t)]
    return max(facts, key=lambda f: (f.occurred_at, f.event_id), default=None)


def first_fact(record: Record) -> SourceFact | None:
    """The oldest fact on the record: where the record's knowledge of its key begins."""
    facts = [f for t in (record.get("facts") or {}) for f in facts_of(record, t)]
    return min(facts, key=lambda f: (f.occurred_at, f.event_id), default=None)


def _items(collection: Any) -> list[Mapping[str, Any]]:
    if isinstance(collection, Mapping):
        return [v for v in collection.values() if isinstance(v, Mapping)]
    if isinstance(collection, list):
        return [v for v in collection if isinstance(v, Mapping)]
    return []


def is_active(item: Mapping[str, Any]) -> bool:
    """Whether a mortgage, seizure or objection entry still binds."""
    if "active" in item:
        return bool(item["active"])
    state = str(item.get("state") or item.get("status") or "active").lower()
    return state not in INACTIVE_STATES


def active_items(record: Record, collection: str) -> list[Mapping[str, Any]]:
    """Binding entries of ``collection`` (``mortgages``, ``seizures``, ``objections``).

    Reads ``record["collections"]`` (design.md), or ``record["encumbrances"]`` if present.
    """
    holders = [record.get("collections") or {}, record.get("encumbrances") or {}]
    return [
        i
        for h in holders
        if isinstance(h, Mapping)
        for i in _items(h.get(collection))
        if is_active(i)
    ]


def field_value(record: Record, attribute: str) -> tuple[Any, SourceFact | None]:
    """The resolved value of a field and who said it (``(None, None)`` if absent)."""
    entry = (record.get("fields") or {}).get(attribute)
    if not isinstance(entry, Mapping):
        return None, None
    department = str(entry.get("department") or "")
    source = None
    if entry.get("event_id") and entry.get("occurred_at"):
        source = SourceFact(
            f"{department}.field:{attribute}",
            department,
            str(entry["event_id"]),
            parse_instant(entry["occurred_at"]),
        )
    return entry.get("value"), source
