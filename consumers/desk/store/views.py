"""What the desk shows: a queue line (:class:`CaseSummary`) and a full case (:class:`CaseDetail`).

Summaries are read from the case columns alone (the queue must stay fast with thousands of
open cases); details restore the case from its timeline. Values are unmasked: masking is the
web layer's job (by role, from the schemas' sharing classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consumers.desk.domain import Case, DeskConfig
from consumers.desk.store.models import CaseRow


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """One line of the queue.

    ``time_left_seconds`` is office time until the whole case is due, negative when overdue;
    for a closed case it is the office time that was left when it completed.
    ``deadline_provisional`` is true when the deadline falls in a year whose official
    calendar is not published yet (see :mod:`consumers.desk.domain.workdays`).
    """

    case_id: str
    case_type: str
    subject: str
    profile: str
    status: str
    accepted_at: datetime
    deadline: datetime
    time_left_seconds: float
    overdue: bool
    steps_done: int
    steps_total: int
    deadline_provisional: bool = False


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """A case in full: the form as submitted (unmasked), each step, the timeline, notices."""

    summary: CaseSummary
    form: dict[str, Any]
    steps: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    notices: list[dict[str, Any]]
    rating: dict[str, Any] | None


def summary(row: CaseRow, now: datetime, config: DeskConfig) -> CaseSummary:
    """The queue line of a stored case at ``now``."""
    calendar = config.calendar
    until = row.completed_at if row.completed_at is not None else now
    left = calendar.working_time_between(until, row.case_due_at).total_seconds()
    return CaseSummary(
        case_id=row.case_id,
        case_type=row.case_type,
        subject=row.key or row.pending_name or "",
        profile=row.profile,
        status=row.status,
        accepted_at=row.accepted_at,
        deadline=row.case_due_at,
        time_left_seconds=left,
        overdue=until >= row.case_due_at if row.status == "open" else until > row.case_due_at,
        steps_done=row.steps_done,
        steps_total=row.steps_total,
        deadline_provisional=calendar.is_provisional(row.case_due_at.date()),
    )


def _source(case: Case, name: str) -> dict[str, Any] | None:
    step = case.steps[name]
    raw = step.source
    if not raw:
        return None
    if raw.get("deemed_approval"):
        return {
            "department": case.plan.step(name).department,
            "event_id": None,
            "occurred_at": raw.get("due_at"),
            "deemed_approval": True,
        }
    return {
        "department": raw.get("department"),
        "event_id": raw.get("event_id"),
        "occurred_at": raw.get("occurred_at"),
        "event_type": raw.get("event_type"),
    }


def steps(case: Case) -> list[dict[str, Any]]:
    """Each step: its state, limit, deadline and the fact (or deemed approval) it rests on."""
    out = []
    for spec in case.plan.steps:
        deadline = case.deadlines.get(f"step:{spec.name}")
        out.append(
            {
                "step": spec.name,
                "title": spec.title,
                "department": spec.department,
                "state": case.steps[spec.name].status,
                "limit": str(spec.limit),
                "deadline": deadline.due_at.isoformat() if deadline else None,
                "source": _source(case, spec.name),
            }
        )
    return out


def detail(row: CaseRow, case: Case, now: datetime, config: DeskConfig) -> CaseDetail:
    """The full view of a restored case."""
    notices = [
        {"notice": e.subject, "event_id": e.event_id, "issued_at": e.at.isoformat(), "body": e.data}
        for e in case.timeline
        if e.kind in ("notice_issued", "utilities_notified")
    ]
    return CaseDetail(
        summary=summary(row, now, config),
        form=dict(row.form),
        steps=steps(case),
        timeline=[e.to_dict() for e in case.timeline],
        notices=notices,
        rating=dict(case.rating) if case.rating is not None else None,
    )
