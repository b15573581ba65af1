"""Timeline entries: what a case records instead of publishing (cosmicpython style).

Every entry has a stable id, ``<case id>/<kind>/<subject>``: the same fact or the same
deadline can only ever produce the same id, so the persistence layer enforces "once" with a
unique constraint and a redelivered record adds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """Kinds of timeline entries."""

    CASE_ACCEPTED = "case_accepted"
    NOTICE_ISSUED = "notice_issued"
    ITEM_MISSING = "item_missing"
    PROMISE_ACCEPTED = "promise_accepted"
    PROMISE_REFUSED = "promise_refused"
    ITEM_SUPPLIED = "item_supplied"
    KEY_ASSIGNED = "key_assigned"
    STEP_STARTED = "step_started"
    STEP_HELD = "step_held"
    STEP_COMPLETED = "step_completed"
    ORDER_VIOLATION = "order_violation"
    WARNING_RAISED = "warning_raised"
    ESCALATED = "escalated"
    DEEMED_APPROVED = "deemed_approved"
    CASE_COMPLETED = "case_completed"
    UTILITIES_NOTIFIED = "utilities_notified"
    COMPLAINT_FILED = "complaint_filed"
    COMPLAINT_ESCALATED = "complaint_escalated"
    COMPLAINT_RESOLVED = "complaint_resolved"
    RATED = "rated"
    APPLICATION_PUBLISHED = "application_published"  # the desk read its own application back


def entry_id(case_id: str, kind: Kind, subject: str) -> str:
    """The stable id of a timeline entry."""
    return f"{case_id}/{kind.value}/{subject}"


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One timeline entry.

    ``at`` is when it happened in the domain (the source fact's ``occurred_at``, the deadline
    that passed); ``recorded_at`` is the ``now`` of the call that recorded it. ``subject`` is
    a step name, an item name, ``case``, or a complaint id with its level. ``data`` is
    JSON-able (instants as ISO 8601 strings).
    """

    case_id: str
    kind: Kind
    subject: str
    at: datetime
    recorded_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def event_id(self) -> str:
        """Stable id (see module docstring)."""
        return entry_id(self.case_id, self.kind, self.subject)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for persistence and the API."""
        return {
            "event_id": self.event_id,
            "case_id": self.case_id,
            "kind": self.kind.value,
            "subject": self.subject,
            "at": self.at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CaseEvent:
        """Inverse of :meth:`to_dict`."""
        return cls(
            case_id=raw["case_id"],
            kind=Kind(raw["kind"]),
            subject=raw["subject"],
            at=datetime.fromisoformat(raw["at"]),
            recorded_at=datetime.fromisoformat(raw["recorded_at"]),
            data=dict(raw.get("data") or {}),
        )
