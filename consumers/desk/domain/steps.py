"""Steps of a case and the checks that read them off the unified record.

A step is done when its check finds the facts it needs: the check returns the
:class:`SourceFact` that completed it (the last of several facts, the field's source, or the
latest fact that cleared an encumbrance), or ``None`` while the record does not show it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from consumers.desk.domain.limits import TimeLimit
from consumers.desk.domain.records import (
    Record,
    SourceFact,
    active_items,
    field_value,
    find_fact,
    first_fact,
    latest_fact,
)

Check = Callable[[Record, datetime | None], SourceFact | None]
"""``check(record, not_before)``: the fact that completes the step, or ``None``."""


def all_facts(*event_types: str) -> Check:
    """Done when every event type has occurred (at/after ``not_before``); source = the last."""

    def check(record: Record, not_before: datetime | None) -> SourceFact | None:
        found = [find_fact(record, t, not_before) for t in event_types]
        if any(f is None for f in found):
            return None
        return max((f for f in found if f is not None), key=lambda f: (f.occurred_at, f.event_id))

    return check


def fact_with_field(event_type: str, attribute: str, expected: Any) -> Check:
    """Done when ``event_type`` occurred and the record's ``attribute`` equals ``expected``."""

    def check(record: Record, not_before: datetime | None) -> SourceFact | None:
        fact = find_fact(record, event_type, not_before)
        value, source = field_value(record, attribute)
        if fact is None or value != expected:
            return None
        return source or fact

    return check


def none_active(collections: tuple[str, ...], clearing_events: tuple[str, ...]) -> Check:
    """Done when no entry of ``collections`` binds; source = the latest clearing fact.

    With nothing ever cleared and nothing binding, nothing was ever registered: the
    condition has held since the record's first fact, which is then the source.
    """

    def check(record: Record, not_before: datetime | None) -> SourceFact | None:
        if any(active_items(record, c) for c in collections):
            return None
        return latest_fact(record, clearing_events) or first_fact(record)

    return check


@dataclass(frozen=True, slots=True)
class StepSpec:
    """A step of a case: what it waits for, whose it is, and its time limit.

    ``after`` names steps that must be done first (先税后证: the certificate after taxes);
    ``fresh`` steps only count facts that occurred at or after the case's acceptance (a
    certificate issued years ago for the seller is not this case's certificate);
    ``deemed_approval`` steps are taken as approved when the department misses the limit.
    """

    name: str
    department: str
    title: str
    facts: tuple[str, ...]
    check: Check
    limit: TimeLimit
    after: tuple[str, ...] = ()
    deemed_approval: bool = False
    fresh: bool = False


@dataclass(frozen=True, slots=True)
class CasePlan:
    """Everything a case of one type and profile must do, and the whole case's limit."""

    case_type: str
    profile: str
    case_limit: TimeLimit
    steps: tuple[StepSpec, ...]
    notify_utilities: bool = False

    def step(self, name: str) -> StepSpec:
        """The step called ``name``."""
        for spec in self.steps:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def with_deemed_approval(self, names: frozenset[str]) -> CasePlan:
        """A copy where exactly the steps in ``names`` have deemed approval."""
        unknown = names - {s.name for s in self.steps}
        if unknown:
            raise ValueError(f"deemed approval for unknown steps: {sorted(unknown)}")
        steps = tuple(replace(s, deemed_approval=s.name in names) for s in self.steps)
        return replace(self, steps=steps)
