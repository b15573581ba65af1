"""The desk's service layer: every use case in one transaction, over the pure domain.

The web page, the consumer and the scheduler all go through :class:`DeskService`. Each
method opens a :class:`UnitOfWork`, restores what it needs, calls the domain, stores the new
timeline entries and commits; side effects outside the database (the application event,
metrics) happen only after the commit.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from consumers.desk.applications import apply_application
from consumers.desk.domain import (
    DEFAULT_CONFIG,
    CaseStateError,
    DeskConfig,
    accept,
    parse_form,
)
from consumers.desk.domain import rate as rate_case
from consumers.desk.domain.forms import StartupForm
from consumers.desk.metrics import DeskMetrics, QueueCounts
from consumers.desk.store import audit as audit_chain
from consumers.desk.store.models import CaseRow
from consumers.desk.store.progress import CaseProgress, advance_loaded, with_retries
from consumers.desk.store.uow import UnitOfWork
from consumers.desk.store.views import CaseDetail, CaseSummary, detail, summary

__all__ = ["Actor", "CaseDetail", "CaseNotFound", "CaseSummary", "DeskService", "utcnow"]

log = logging.getLogger(__name__)
APPLICATION_EVENT = "desk.application_submitted"


def utcnow() -> datetime:
    """The current instant (UTC, aware)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Actor:
    """Who acts: ``role`` is ``clerk``, ``supervisor``, ``auditor`` or ``applicant``."""

    user: str
    role: str


class CaseNotFound(CaseStateError):
    """No case with this id."""


def _jsonable(form: Mapping[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(dict(form), default=str, ensure_ascii=False)))


def _new_case_id(case_type: str, now: datetime) -> str:
    return f"{case_type[:2].upper()}-{now:%Y%m%d}-{uuid.uuid4().hex[:12]}"


class DeskService:
    """Use cases of a registration desk over a desk database."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        clock: Callable[[], datetime] = utcnow,
        application_sink: Callable[[dict[str, Any]], None] | None = None,
        config: DeskConfig = DEFAULT_CONFIG,
        metrics: DeskMetrics | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.application_sink = application_sink
        self.config = config
        self.metrics = metrics

    def uow(self) -> UnitOfWork:
        """A new unit of work on this desk's database."""
        return UnitOfWork(self.session_factory)

    def submit(self, form: Mapping[str, Any], actor: Actor, profile: str = "default") -> str:
        """Accept the one form: validate, open the case, use any stored record, persist.

        Raises :class:`InvalidForm` / :class:`UnknownProfile` before anything is saved. The
        application event goes to ``application_sink`` after the commit.
        """
        parsed = parse_form(form)
        raw = _jsonable(form)
        now = self.clock()
        case_id = _new_case_id(parsed.case_type, now)
        case, events = accept(case_id, parsed, now, profile=profile, config=self.config)
        with self.uow() as uow:
            record = None
            if case.key is not None:
                kind = "property" if case.case_type == "transfer" else "enterprise"
                record = uow.records.get(kind, case.key)
            elif isinstance(parsed, StartupForm) and parsed.pending_name:
                record = uow.records.by_name(parsed.pending_name)
            uow.cases.add(case, raw, actor.user, events)
            progress = CaseProgress(case, list(events))
            advance_loaded(uow, progress, record, now, self.config)
            uow.commit()
        self._observe([progress])
        if self.application_sink is not None:
            self.application_sink(application_event(case_id, raw, parsed, profile, actor, now))
        return case_id

    def open_cases(
        self, *, limit: int = 100, offset: int = 0, case_type: str | None = None
    ) -> list[CaseSummary]:
        """Open cases, the nearest whole-case deadline first."""
        now = self.clock()
        with self.uow() as uow:
            query = select(CaseRow).where(CaseRow.status == "open")
            if case_type is not None:
                query = query.where(CaseRow.case_type == case_type)
            query = query.order_by(CaseRow.case_due_at, CaseRow.case_id).limit(limit).offset(offset)
            return [summary(r, now, self.config) for r in uow.session.scalars(query)]

    def count_open(self) -> int:
        """How many cases are open."""
        with self.uow() as uow:
            query = select(func.count()).select_from(CaseRow).where(CaseRow.status == "open")
            return int(uow.session.scalar(query) or 0)

    def case(self, case_id: str) -> CaseDetail | None:
        """A case in full (unmasked), or ``None`` if there is no such case."""
        with self.uow() as uow:
            loaded = uow.cases.load(case_id)
            if loaded is None:
                return None
            case, row = loaded
            return detail(row, case, self.clock(), self.config)

    def record(self, kind: str, key: str) -> dict[str, Any] | None:
        """The latest unified record the desk has stored for ``kind``/``key`` (unmasked)."""
        with self.uow() as uow:
            return uow.records.get(kind, key)

    def rate(self, case_id: str, score: int | str, actor: Actor, comment: str = "") -> None:
        """Rate a closed case; :class:`InvalidForm` for a bad score, :class:`CaseStateError`
        when the case is open, already rated or unknown."""

        def attempt() -> None:
            now = self.clock()
            with self.uow() as uow:
                loaded = uow.cases.load(case_id, lock=True)
                if loaded is None:
                    raise CaseNotFound(f"no case {case_id}")
                case, row = loaded
                events = rate_case(case, score, now, comment)
                uow.cases.append(case, events, now, row)
                uow.cases.add_rating(case_id, events[0], actor.user)
                uow.commit()

        with_retries(attempt)

    def audit(
        self, actor: Actor, action: str, target_kind: str, target_key: str, detail: dict[str, Any]
    ) -> None:
        """Append an entry to the hash-chained audit log (who, what, when)."""

        def attempt() -> None:
            with self.uow() as uow:
                audit_chain.append(
                    uow.session,
                    self.clock(),
                    actor.user,
                    actor.role,
                    action,
                    target_kind,
                    target_key,
                    detail,
                )
                uow.commit()

        with_retries(attempt)

    def verify_audit(self) -> list[str]:
        """Problems of the audit chain, naming the first bad entry first; empty if intact."""
        with self.uow() as uow:
            return audit_chain.verify(uow.session)

    def apply_record(
        self,
        record: Mapping[str, Any] | None,
        *,
        topic: str,
        partition: int,
        offset: int,
        group: str,
    ) -> int:
        """Store a consumed record, advance the open cases it is about, store the next offset:
        one transaction. A record at an offset already done changes nothing. Returns the
        number of timeline entries added."""

        def attempt() -> list[CaseProgress]:
            now = self.clock()
            with self.uow() as uow:
                done = uow.offsets.get(group, topic, partition)
                if done is not None and offset < done:
                    return []
                progress = []
                if record is not None:  # None: a tombstone or an undecodable message
                    progress = self._advance_matching(uow, record, topic, partition, offset, now)
                uow.offsets.put(group, topic, partition, offset + 1)
                uow.commit()
                return progress

        progress = with_retries(attempt)
        self._observe(progress)
        return sum(len(p.events) for p in progress)

    def apply_application(self, application: Mapping[str, Any] | None, *, topic: str,
                          partition: int, offset: int, group: str) -> int:
        """Record that a case's application reached the bus (``application_published``) and
        store the next offset, in one transaction (:mod:`consumers.desk.applications`)."""
        return apply_application(self.uow, self.clock, application, topic=topic,
                                 partition=partition, offset=offset, group=group)

    def _advance_matching(
        self,
        uow: UnitOfWork,
        record: Mapping[str, Any],
        topic: str,
        partition: int,
        offset: int,
        now: datetime,
    ) -> list[CaseProgress]:
        uow.records.put(record, topic, partition, offset, now)
        progress = []
        for case_id in uow.cases.matching(record):
            loaded = uow.cases.load(case_id, lock=True)
            if loaded is not None:
                step = CaseProgress(loaded[0], [], loaded[1])
                advance_loaded(uow, step, record, now, self.config)
                progress.append(step)
        return progress

    def fire_due(self, *, limit: int = 500) -> int:
        """Advance every case whose stored next deadline has come (warnings, escalations,
        deemed approvals), each in its own transaction. Returns the entries added."""
        now = self.clock()
        with self.uow() as uow:
            due = uow.cases.due(now, limit)
        added = 0
        for case_id in due:
            progress = with_retries(partial(self._fire_one, case_id))
            if progress is not None:
                self._observe([progress])
                added += len(progress.events)
        return added

    def _fire_one(self, case_id: str) -> CaseProgress | None:
        now = self.clock()
        with self.uow() as uow:
            loaded = uow.cases.load(case_id, lock=True)
            row = loaded[1] if loaded else None
            if (
                loaded is None
                or row is None
                or row.next_deadline is None
                or row.next_deadline > now
            ):
                return None  # another process fired it first
            case = loaded[0]
            record = None
            if case.key is not None:
                kind = "property" if case.case_type == "transfer" else "enterprise"
                record = uow.records.get(kind, case.key)
            progress = CaseProgress(case, [], row)
            advance_loaded(uow, progress, record, now, self.config)
            uow.commit()
            return progress

    def queue_counts(self) -> dict[str, QueueCounts]:
        """Open, overdue and near-deadline cases per case type, now."""
        now = self.clock()
        with self.uow() as uow:
            return uow.cases.queue_counts(now)

    def _observe(self, progress: list[CaseProgress]) -> None:
        if self.metrics is None:
            return
        for p in progress:
            p.observe(self.metrics, self.config)


def application_event(
    case_id: str,
    form: dict[str, Any],
    parsed: Any,
    profile: str,
    actor: Actor,
    now: datetime,
) -> dict[str, Any]:
    """The desk's application event (一表申报, collected once): the validated form as
    submitted, for each department's system to take what it needs. Carries personal data
    (the legal representative's ID): publish it only on the desk's own restricted topic."""
    return {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"desk:{case_id}:submitted")),
        "event_type": APPLICATION_EVENT,
        "case_id": case_id,
        "case_type": parsed.case_type,
        "profile": profile,
        "key": getattr(parsed, "credit_code", None) or getattr(parsed, "unit_number", None),
        "pending_name": getattr(parsed, "pending_name", None),
        "submitted_at": now.isoformat(),
        "submitted_by": actor.user,
        "channel_role": actor.role,
        "form": form,
    }
