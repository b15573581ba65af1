"""The order of facts independent of arrival, and the small lattices built on it.

Every entry a record keeps about an event carries ``event_id`` and ``occurred_at`` (ISO
8601 UTC with milliseconds, see :mod:`.values`). ``(occurred_at, event_id)`` is a total
order on events (the string form of :attr:`DepartmentEvent.order_key`): a *register* keeps
the entry that is greatest in it, a *timeline* keeps every entry sorted by it. Both are
join-semilattices (commutative, associative, idempotent), which is what makes the fold
order-independent. None of these helpers mutates its arguments.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from typing import Any

Entry = dict[str, Any]


def order_of(entry: Mapping[str, Any]) -> tuple[str, str]:
    """``(occurred_at, event_id)`` of an entry: its place in the total order of events."""
    return (entry["occurred_at"], entry["event_id"])


def is_newer(candidate: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    """Whether ``candidate`` wins over ``current`` in a register (``None`` always loses)."""
    return current is None or order_of(candidate) > order_of(current)


def put_register(
    registers: Mapping[str, Entry], key: str, candidate: Entry
) -> dict[str, Entry] | None:
    """A copy of ``registers`` with ``candidate`` under ``key`` if it is newer, else ``None``.

    ``None`` (nothing changed) lets callers skip copying the levels above.
    """
    if not is_newer(candidate, registers.get(key)):
        return None
    updated = dict(registers)
    updated[key] = candidate
    return updated


def insert_sorted(timeline: list[Entry], entry: Entry) -> list[Entry]:
    """A new timeline with ``entry`` at its place; the same list if its event is already in.

    The timeline is sorted by :func:`order_of` and holds each event id once.
    """
    position = bisect_right(timeline, order_of(entry), key=order_of)
    if position and timeline[position - 1]["event_id"] == entry["event_id"]:
        return timeline
    return [*timeline[:position], entry, *timeline[position:]]


def union_sorted(left: list[Entry], right: list[Entry]) -> list[Entry]:
    """The union of two timelines (by event id), sorted by :func:`order_of`."""
    merged = {e["event_id"]: e for e in left}
    for entry in right:
        merged.setdefault(entry["event_id"], entry)
    return sorted(merged.values(), key=order_of)
