"""Complaints (投诉) on a case: escalated after 5 and again after 30 working days (督办).

A complaint can be filed on an open or a closed case; resolving it stops its escalations.
"""

from __future__ import annotations

from datetime import datetime

from consumers.desk.domain.case import Case
from consumers.desk.domain.deadlines import COMPLAINT_LEVELS, DEFAULT_CONFIG, DeskConfig
from consumers.desk.domain.errors import CaseStateError
from consumers.desk.domain.events import CaseEvent, Kind
from consumers.desk.domain.handlers import advance


def file_complaint(
    case: Case,
    complaint_id: str,
    now: datetime,
    text: str = "",
    config: DeskConfig = DEFAULT_CONFIG,
) -> list[CaseEvent]:
    """Record a complaint and its escalation deadlines; filing the same id again adds nothing."""
    if ":" in complaint_id or "/" in complaint_id or not complaint_id:
        raise CaseStateError(f"complaint id {complaint_id!r} must be non-empty, without ':' or '/'")
    deadlines = []
    for level, limit in COMPLAINT_LEVELS:
        due_at = config.calendar.add_working_time(now, limit)
        deadlines.append(
            {
                "subject": f"complaint:{complaint_id}:{level}",
                "warn_at": None,
                "due_at": due_at.isoformat(),
                "deemed_approval": False,
            }
        )
    out: list[CaseEvent] = []
    case.record(
        CaseEvent(
            case.case_id,
            Kind.COMPLAINT_FILED,
            complaint_id,
            now,
            now,
            {"text": text, "deadlines": deadlines},
        ),
        out,
    )
    return out + advance(case, None, now, config)


def resolve_complaint(
    case: Case, complaint_id: str, now: datetime, resolution: str = ""
) -> list[CaseEvent]:
    """Mark a complaint resolved; its remaining escalations will not fire."""
    if complaint_id not in case.complaints:
        raise CaseStateError(f"case {case.case_id}: no complaint {complaint_id!r}")
    out: list[CaseEvent] = []
    case.record(
        CaseEvent(
            case.case_id,
            Kind.COMPLAINT_RESOLVED,
            complaint_id,
            now,
            now,
            {"resolution": resolution},
        ),
        out,
    )
    return out
