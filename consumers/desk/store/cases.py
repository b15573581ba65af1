"""Cases in the database: add, restore from the timeline, append entries, find by record.

A case is rebuilt with :func:`restore` from its stored form and its timeline in ``seq``
order; new entries are appended with the next ``seq`` numbers and the queryable columns of
``desk_cases`` are refreshed from the rebuilt state in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from consumers.desk.domain import Case, CaseEvent, Kind, next_deadline, parse_form, restore
from consumers.desk.domain.forms import StartupForm
from consumers.desk.domain.records import Record, field_value
from consumers.desk.metrics import QueueCounts
from consumers.desk.store.models import CaseRow, NoticeRow, RatingRow, TimelineRow

NOTICE_KINDS = frozenset({Kind.NOTICE_ISSUED, Kind.UTILITIES_NOTIFIED})
RECORD_KIND = {"startup": "enterprise", "deregistration": "enterprise", "transfer": "property"}


def to_event(row: TimelineRow) -> CaseEvent:
    """The domain entry of a stored timeline row."""
    return CaseEvent(row.case_id, Kind(row.kind), row.subject, row.at, row.recorded_at, row.data)


class CaseRepository:
    """Cases of one session (one unit of work)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self, case: Case, form: Mapping[str, Any], submitted_by: str, events: Sequence[CaseEvent]
    ) -> None:
        """A new case with its first entries; ``form`` is the raw form it was parsed from."""
        due = case.deadlines["case"]
        pending = case.form.pending_name if isinstance(case.form, StartupForm) else None
        row = CaseRow(
            case_id=case.case_id,
            case_type=case.case_type,
            profile=case.plan.profile,
            status=case.status,
            key=case.key,
            pending_name=pending,
            form=dict(form),
            submitted_by=submitted_by,
            accepted_at=case.accepted_at,
            completed_at=None,
            case_warn_at=due.warn_at,
            case_due_at=due.due_at,
            next_deadline=None,
            steps_done=0,
            steps_total=len(case.steps),
            last_seq=0,
        )
        self.session.add(row)
        self.session.flush()  # the case row before its children (foreign keys)
        self.append(case, events, case.accepted_at, row)

    def row(self, case_id: str, *, lock: bool = False) -> CaseRow | None:
        """The case's row; ``lock`` takes a row lock (PostgreSQL) until the commit."""
        query = select(CaseRow).where(CaseRow.case_id == case_id)
        if lock:
            query = query.with_for_update()
        return self.session.scalars(query).one_or_none()

    def timeline(self, case_id: str) -> list[CaseEvent]:
        """The case's entries in recorded order."""
        rows = self.session.scalars(
            select(TimelineRow).where(TimelineRow.case_id == case_id).order_by(TimelineRow.seq)
        )
        return [to_event(r) for r in rows]

    def load(self, case_id: str, *, lock: bool = False) -> tuple[Case, CaseRow] | None:
        """The case rebuilt from its form and timeline, with its row (locked if asked)."""
        row = self.row(case_id, lock=lock)
        if row is None:
            return None
        case = restore(case_id, parse_form(row.form), self.timeline(case_id))
        return case, row

    def append(
        self, case: Case, events: Sequence[CaseEvent], now: datetime, row: CaseRow | None = None
    ) -> None:
        """Store ``events`` (already applied to ``case``) and refresh the case's columns."""
        row = row or self.row(case.case_id)
        assert row is not None, f"case {case.case_id} is not stored"
        for event in events:
            row.last_seq += 1
            self.session.add(
                TimelineRow(
                    event_id=event.event_id,
                    case_id=event.case_id,
                    seq=row.last_seq,
                    kind=event.kind.value,
                    subject=event.subject,
                    at=event.at,
                    recorded_at=event.recorded_at,
                    data=dict(event.data),
                )
            )
            if event.kind in NOTICE_KINDS:
                self.session.add(
                    NoticeRow(
                        event_id=event.event_id,
                        case_id=event.case_id,
                        notice=event.subject,
                        issued_at=event.at,
                        body=dict(event.data),
                    )
                )
        refresh(row, case, now)

    def add_rating(self, case_id: str, event: CaseEvent, rated_by: str) -> None:
        """The rating row of a ``rated`` entry (the entry itself goes through append)."""
        data = event.data
        self.session.add(
            RatingRow(
                case_id=case_id,
                verdict=str(data["verdict"]),
                score=data.get("score"),
                comment=str(data.get("comment") or ""),
                rated_by=rated_by,
                rated_at=event.at,
            )
        )

    def matching(self, record: Record) -> list[str]:
        """Open cases a record may be about: by key, or by pending name (start-up only)."""
        kind = record.get("kind")
        types = [t for t, k in RECORD_KIND.items() if k == kind]
        about = [CaseRow.key == record.get("key")]
        name, _ = field_value(record, "name")
        if kind == "enterprise" and isinstance(name, str):
            about.append((CaseRow.key.is_(None)) & (CaseRow.pending_name == name))
        query = (
            select(CaseRow.case_id)
            .where(CaseRow.status == "open", CaseRow.case_type.in_(types), or_(*about))
            .order_by(CaseRow.accepted_at, CaseRow.case_id)
        )
        return list(self.session.scalars(query))

    def due(self, now: datetime, limit: int) -> list[str]:
        """Cases whose next deadline has come, earliest first."""
        query = (
            select(CaseRow.case_id)
            .where(CaseRow.next_deadline.is_not(None), CaseRow.next_deadline <= now)
            .order_by(CaseRow.next_deadline, CaseRow.case_id)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def queue_counts(self, now: datetime) -> dict[str, QueueCounts]:
        """Open, overdue (past the case deadline) and near-deadline (past its warning)
        cases per case type."""
        query = select(CaseRow.case_type, CaseRow.case_warn_at, CaseRow.case_due_at).where(
            CaseRow.status == "open"
        )
        counts: dict[str, list[int]] = {}
        for case_type, warn_at, due_at in self.session.execute(query):
            c = counts.setdefault(case_type, [0, 0, 0])
            c[0] += 1
            if due_at <= now:
                c[1] += 1
            elif warn_at is not None and warn_at <= now:
                c[2] += 1
        return {t: QueueCounts(*c) for t, c in counts.items()}


def refresh(row: CaseRow, case: Case, now: datetime) -> None:
    """Copy the state the queue and the scheduler query from the case to its row."""
    row.status = case.status
    row.key = case.key
    row.completed_at = case.completed_at
    row.steps_done = sum(1 for s in case.steps.values() if s.done)
    row.steps_total = len(case.steps)
    deadline = case.deadlines.get("case")
    if deadline is not None:
        row.case_warn_at, row.case_due_at = deadline.warn_at, deadline.due_at
    row.next_deadline = next_deadline(case, now)
