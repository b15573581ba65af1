"""The desk's own application events, consumed back: proof that an application reached the bus.

The desk publishes each accepted one form once on ``dept.desk.application``
(:mod:`consumers.desk.fanout`). The desk consumer reads that topic too, and each application
of a case this desk database holds adds one ``application_published`` entry to the case's
timeline (subject: the case id; ``at``: the envelope's ``occurred_at``; data: where it was
read and its event id), in the same transaction as the consumed offset. The entry changes no
case state. An application of a case this database does not have (another desk's) only
advances the offset; so does one at an offset already done, and a second copy of the same
application at another offset finds its entry already on the timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from consumers.desk.domain import Case, CaseEvent, Kind
from consumers.desk.store.progress import with_retries
from consumers.desk.store.uow import UnitOfWork

APPLICATION_TOPIC = "dept.desk.application"


def published_entries(
    case: Case,
    application: Mapping[str, Any],
    *,
    topic: str,
    partition: int,
    offset: int,
    now: datetime,
) -> list[CaseEvent]:
    """Record on ``case`` that its application was read from ``topic[partition]@offset``;
    the new entry, or none when the case already has it. Pure: no I/O."""
    envelope = application["envelope"]
    data = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "event_id": str(envelope["event_id"]),
    }
    entry = CaseEvent(
        case.case_id, Kind.APPLICATION_PUBLISHED, case.case_id, envelope["occurred_at"], now, data
    )
    out: list[CaseEvent] = []
    case.record(entry, out)
    return out


def apply_application(
    uow_factory: Callable[[], UnitOfWork],
    clock: Callable[[], datetime],
    application: Mapping[str, Any] | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    group: str,
) -> int:
    """The entry (if any) and the next offset in one transaction; ``application`` is a decoded
    ``desk.application_submitted`` record, or ``None`` for a message that only advances the
    offset. Returns the number of timeline entries added (0 or 1)."""

    def attempt() -> int:
        now = clock()
        with uow_factory() as uow:
            done = uow.offsets.get(group, topic, partition)
            if done is not None and offset < done:
                return 0
            added: list[CaseEvent] = []
            if application is not None:
                loaded = uow.cases.load(str(application["case_id"]), lock=True)
                if loaded is not None:  # None: another desk's case
                    case, row = loaded
                    added = published_entries(
                        case, application, topic=topic, partition=partition, offset=offset,
                        now=now,
                    )
                    if added:
                        uow.cases.append(case, added, now, row)
            uow.offsets.put(group, topic, partition, offset + 1)
            uow.commit()
            return len(added)

    return with_retries(attempt)
