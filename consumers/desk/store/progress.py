"""One step of a stored case: advance it on a record and/or the clock, store what it added.

Shared by the service's use cases (submit, a consumed record, a fired deadline), with the
retry that makes concurrent writers safe: a writer that loses a race (a unique entry id or
sequence number already taken, a deadlock, a busy SQLite) rolls back and starts over from
the committed state, where the domain's idempotence makes the second attempt add only what
is still missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError

from consumers.desk.domain import Case, CaseEvent, DeskConfig, Kind, advance, matches
from consumers.desk.domain.records import Record
from consumers.desk.metrics import DeskMetrics
from consumers.desk.store.models import CaseRow
from consumers.desk.store.uow import UnitOfWork

T = TypeVar("T")
log = logging.getLogger(__name__)
RETRIES = 5


@dataclass
class CaseProgress:
    """A case being advanced in a unit of work, and the entries added to it."""

    case: Case
    events: list[CaseEvent] = field(default_factory=list)
    row: CaseRow | None = None

    def observe(self, metrics: DeskMetrics, config: DeskConfig) -> None:
        """Count deemed approvals and completion times (call after the commit)."""
        case_type = self.case.case_type
        for event in self.events:
            if event.kind == Kind.DEEMED_APPROVED:
                metrics.deemed_approvals.labels(case_type).inc()
            elif event.kind == Kind.CASE_COMPLETED:
                office = config.calendar.working_time_between(self.case.accepted_at, event.at)
                metrics.case_duration.labels(case_type).observe(max(office.total_seconds(), 0))


def advance_loaded(
    uow: UnitOfWork,
    progress: CaseProgress,
    record: Record | None,
    now: datetime,
    config: DeskConfig,
) -> None:
    """Advance the case (with ``record`` if it is about the case) and store the new entries."""
    usable = record if record is not None and matches(progress.case, record) else None
    added = advance(progress.case, usable, now, config)
    uow.cases.append(progress.case, added, now, progress.row)
    progress.events.extend(added)


def with_retries(attempt: Callable[[], T], retries: int = RETRIES) -> T:
    """Run ``attempt`` (one whole transaction) again when it lost a race with a writer."""
    for n in range(1, retries + 1):
        try:
            return attempt()
        except (IntegrityError, OperationalError) as exc:
            if n == retries:
                raise
            log.info(
                "desk transaction lost a race (attempt %d/%d): %s",
                n,
                retries,
                type(exc.orig).__name__ if exc.orig is not None else exc,
            )
    raise AssertionError("unreachable")
