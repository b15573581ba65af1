"""The fold: ``merge(record, event) -> record``, shared by enterprise and property records.

A record is a plain JSON-able dict (shape in docs/design.md, "Merge rules"). The fold keeps
only join-semilattice state (registers that keep the greatest entry by ``(occurred_at,
event_id)``, timelines sorted and deduplicated, maps of those) and recomputes everything
else (status, completeness, conflicts, derived flags) from that state, so the result does
not depend on the order or the number of times events arrive.

Purity and sharing: ``merge`` never mutates its ``record`` argument. The record it returns
is a new top-level dict that shares every unchanged sub-dict and list with the old one
(only the parts an event changes are copied). Callers must therefore treat records as
immutable values: store the result, discard the old one, and never edit either in place
(``copy.deepcopy`` first if you must). An event already applied returns the very same
record object (``merge(r, e) is r``), which lets callers skip writing it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from exchange.errors import ValidationError
from exchange.events import DepartmentEvent

from . import enterprise, realty
from .catalogue import (
    AUTHORITY,
    ENTERPRISE,
    EXPECTED_FACTS,
    FIELD_MAP,
    KEY_FIELD,
    PROPERTY,
    RecordMismatch,
    UnknownEventType,
    authority_rank,
    record_kind_for,
)
from .order import insert_sorted, order_of
from .values import PLAIN, instant, to_json

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Rules:
    """What the fold does with one event type, derived from the catalogue once."""

    kind: str
    department: str
    key_field: str
    # (body field, attribute, the department's authority rank; None: not contested)
    attributes: tuple[tuple[str, str, int | None], ...]


def _rules(event_type: str) -> _Rules:
    kind = record_kind_for(event_type)
    department = event_type.partition(".")[0]
    return _Rules(kind, department, KEY_FIELD[kind], tuple(
        (body_field, attr, authority_rank(attr, department) if attr in AUTHORITY else None)
        for body_field, attr in FIELD_MAP[event_type].items()
    ))


_RULES: dict[str, _Rules] = {event_type: _rules(event_type) for event_type in FIELD_MAP}


def new_record(kind: str, key: str) -> Record:
    """The empty record of ``kind`` (``"enterprise"`` or ``"property"``) for ``key``."""
    if kind == ENTERPRISE:
        specific = enterprise.initial_state()
    elif kind == PROPERTY:
        specific = realty.initial_state()
    else:
        raise ValueError(f"unknown record kind {kind!r}: expected 'enterprise' or 'property'")
    return {
        "kind": kind,
        "key": key,
        "fields": {},
        "facts": {},
        "completeness": {
            department: {"arrived": [], "missing": list(expected)}
            for department, expected in EXPECTED_FACTS[kind].items()
        },
        "conflicts": [],
        "claims": {},
        "history": [],
        "owner_enterprise": None,
        **specific,
    }


def merge(record: Record | None, event: DepartmentEvent) -> Record:
    """Fold a department event into the unified record it is about.

    ``record`` is ``None`` for the first event of a key. Raises :class:`UnknownEventType`
    for an event type outside the catalogue, :class:`RecordMismatch` (a ``ValueError``) if
    the event is about another key or another kind of record, and ``ValidationError`` if the
    event contradicts itself (department or body key not matching the envelope).
    """
    event_type = event.event_type
    rules = _RULES.get(event_type)
    if rules is None:
        raise UnknownEventType(event_type)
    kind = rules.kind
    if record is None:
        record = new_record(kind, event.key)
    elif record["kind"] != kind:
        raise RecordMismatch(f"{event_type} belongs in a {kind} record, not a {record['kind']} one")
    elif record["key"] != event.key:
        raise RecordMismatch(
            f"event {event.event_id} ({event_type}) is about {event.key!r}, "
            f"not about the record's key {record['key']!r}"
        )
    department = rules.department
    if event.department != department:
        raise ValidationError(event_type, "envelope.department", f"is {event.department!r}")
    body = event.body
    body_key = body.get(rules.key_field)
    if body_key is not None and body_key != event.key:
        raise ValidationError(event_type, rules.key_field, "differs from the envelope key")

    event_id = event.event_id
    history = record["history"]
    for applied in history:
        if applied["event_id"] == event_id:
            return record  # already applied: idempotent

    at = instant(event.occurred_at)
    # Converted once. An enterprise record keeps only the mapped attributes, so only those
    # are converted; the property rules keep whole bodies in their collections. Most values
    # are plain (strings): no call for those.
    if kind == ENTERPRISE:
        values = {name: value if type(value) in PLAIN else to_json(value)
                  for name, _, _ in rules.attributes if (value := body.get(name)) is not None}
    else:
        values = {name: value if type(value) in PLAIN else to_json(value)
                  for name, value in body.items()}
    new = dict(record)
    new["history"] = insert_sorted(
        history,
        {
            "event_id": event_id,
            "event_type": event_type,
            "department": department,
            "occurred_at": at,
        },
    )
    _record_fact(new, record, event_type, department, event_id, at)
    claims_changed = _record_fields(new, record, rules, event_id, at, values)
    if kind == ENTERPRISE:
        enterprise.apply(new, event_type, claims_changed)
    else:
        realty.apply(new, event_type, event_id, at, values)
    return new


def _record_fact(
    new: Record, old: Record, event_type: str, department: str, event_id: str, at: str
) -> None:
    """Update ``facts[event_type]`` (latest event, distinct count) and, if new, completeness."""
    facts = dict(old["facts"])
    fact = facts.get(event_type)
    if fact is None:
        facts[event_type] = {"event_id": event_id, "occurred_at": at, "count": 1}
        new["completeness"] = _completeness_with(old, department, facts)
    elif (at, event_id) > order_of(fact):
        facts[event_type] = {"event_id": event_id, "occurred_at": at, "count": fact["count"] + 1}
    else:
        facts[event_type] = {**fact, "count": fact["count"] + 1}
    new["facts"] = facts


def _completeness_with(old: Record, department: str, facts: dict[str, Any]) -> dict[str, Any]:
    """Completeness recomputed for ``department`` after one of its event types first arrived."""
    arrived, missing = _department_state(old["kind"], department, frozenset(facts))
    completeness = dict(old["completeness"])
    completeness[department] = {"arrived": list(arrived), "missing": list(missing)}
    return completeness


@functools.lru_cache(maxsize=4096)
def _department_state(kind: str, department: str, types: frozenset[str]
                      ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The event types of ``department`` that arrived (sorted) and that are missing.

    A pure function of arguments that recur (records have few distinct sets of event types),
    and the first event of each type of a record computes it: remembered, the completeness
    costs less than half. Tuples, copied into each record's lists, so that no two records
    share a list.
    """
    expected = EXPECTED_FACTS[kind].get(department, ())
    prefix = department + "."  # event types are <department>.<event>
    return (tuple(sorted([t for t in types if t.startswith(prefix)])),
            tuple([t for t in expected if t not in types]))


def _record_fields(
    new: Record,
    old: Record,
    rules: _Rules,
    event_id: str,
    at: str,
    values: dict[str, Any],
) -> bool:
    """Resolve the event's attributes into ``fields`` and ``claims``; whether claims changed.

    ``fields[attr]`` is a register ordered by (authority of the department, occurred_at,
    event_id): the most authoritative department that reported the attribute decides, its
    latest report wins. ``claims[attr][department]`` keeps each department's latest value of
    an attribute listed in ``AUTHORITY``, for conflict detection.
    """
    department = rules.department
    fields: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    for body_field, attr, rank in rules.attributes:
        value = values.get(body_field)
        if value is None:  # optional field not reported (market.changed): no claim
            continue
        current = (fields or old["fields"]).get(attr)
        if current is None or (
            (at, event_id) > (current["occurred_at"], current["event_id"])
            if rank is None
            else (rank, at, event_id)
            > (
                authority_rank(attr, current["department"]),
                current["occurred_at"],
                current["event_id"],
            )
        ):
            if fields is None:
                fields = dict(old["fields"])
            fields[attr] = {
                "value": value,
                "department": department,
                "event_id": event_id,
                "occurred_at": at,
            }
        if rank is not None:
            by_department = (claims or old["claims"]).get(attr, {})
            claim = by_department.get(department)
            if claim is None or (at, event_id) > order_of(claim):
                if claims is None:
                    claims = dict(old["claims"])
                claims[attr] = {
                    **by_department,
                    department: {"value": value, "event_id": event_id, "occurred_at": at},
                }
    if fields is not None:
        new["fields"] = fields
    if claims is not None:
        new["claims"] = claims
        return True
    return False
