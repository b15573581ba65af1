"""The engine of ``advance``: start steps, read the record, fire deadlines, complete.

:func:`settle` repeats the four passes until nothing new is recorded, so a deemed approval
or a completed licence starts the steps waiting for it within the same call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from consumers.desk.domain.case import Case
from consumers.desk.domain.deadlines import Action, DeskConfig, schedule
from consumers.desk.domain.events import CaseEvent, Kind
from consumers.desk.domain.forms import TransferForm
from consumers.desk.domain.items import item_spec
from consumers.desk.domain.notices import completion_notice, utilities_notice
from consumers.desk.domain.records import Record, find_fact


def deadline_entry(
    subject: str, warn_at: datetime | None, due_at: datetime, deemed: bool = False
) -> dict[str, Any]:
    return {
        "subject": subject,
        "warn_at": warn_at.isoformat() if warn_at else None,
        "due_at": due_at.isoformat(),
        "deemed_approval": deemed,
    }


def settle(
    case: Case, record: Record | None, now: datetime, config: DeskConfig, out: list[CaseEvent]
) -> None:
    while True:
        before = len(out)
        _start_ready(case, config, out, now)
        if record is not None:
            _progress(case, record, now, out)
        _fire(case, now, out)
        _complete(case, now, out)
        if len(out) == before:
            return


def _start_ready(case: Case, config: DeskConfig, out: list[CaseEvent], now: datetime) -> None:
    for spec in case.plan.steps:
        step = case.steps[spec.name]
        prereqs = [case.steps[p] for p in spec.after]
        if step.status != "waiting" and not (step.status == "held" and step.started_at is None):
            continue
        if not all(p.done for p in prereqs):
            continue
        start = max([case.accepted_at] + [p.done_at for p in prereqs if p.done_at])
        warn_at, due_at = schedule(config.calendar, start, spec.limit, config.warnings)
        case.record(
            CaseEvent(
                case.case_id,
                Kind.STEP_STARTED,
                spec.name,
                start,
                now,
                {
                    "department": spec.department,
                    "limit": str(spec.limit),
                    "deadlines": [
                        deadline_entry(f"step:{spec.name}", warn_at, due_at, spec.deemed_approval)
                    ],
                },
            ),
            out,
        )


def _progress(case: Case, record: Record, now: datetime, out: list[CaseEvent]) -> None:
    if case.key is None and record.get("key"):
        case.record(
            CaseEvent(case.case_id, Kind.KEY_ASSIGNED, "key", now, now, {"key": record["key"]}), out
        )
    for spec in case.plan.steps:
        step = case.steps[spec.name]
        if step.status == "completed":
            continue
        source = spec.check(record, case.accepted_at if spec.fresh else None)
        if source is None:
            continue
        waiting = [p for p in spec.after if not case.steps[p].done]
        if not waiting and step.started_at is None:
            continue  # its prerequisites just finished: it starts on the next pass
        if waiting:
            case.record(
                CaseEvent(
                    case.case_id,
                    Kind.STEP_HELD,
                    spec.name,
                    source.occurred_at,
                    now,
                    {"waiting_for": waiting, "source": source.to_dict()},
                ),
                out,
            )
            continue
        due = case.deadlines[f"step:{spec.name}"].due_at
        case.record(
            CaseEvent(
                case.case_id,
                Kind.STEP_COMPLETED,
                spec.name,
                source.occurred_at,
                now,
                {
                    "department": spec.department,
                    "source": source.to_dict(),
                    "late": source.occurred_at > due,
                    "after_deemed_approval": step.status == "deemed_approved",
                },
            ),
            out,
        )
        early = [
            p
            for p in spec.after
            if case.steps[p].status == "completed"
            and (case.steps[p].done_at or source.occurred_at) > source.occurred_at
        ]
        if early:
            case.record(
                CaseEvent(
                    case.case_id,
                    Kind.ORDER_VIOLATION,
                    spec.name,
                    source.occurred_at,
                    now,
                    {
                        "rule": f"{spec.name} must follow {', '.join(spec.after)}",
                        "occurred_before": early,
                        "source": source.to_dict(),
                    },
                ),
                out,
            )
    for item, status in list(case.items.items()):
        item_def = item_spec(case.case_type, item)
        fact = (
            find_fact(record, item_def.fact)
            if item_def and item_def.fact and status == "missing"
            else None
        )
        if fact is not None:
            case.record(
                CaseEvent(
                    case.case_id,
                    Kind.ITEM_SUPPLIED,
                    item,
                    fact.occurred_at,
                    now,
                    {"by": "data sharing", "source": fact.to_dict()},
                ),
                out,
            )


def _fire(case: Case, now: datetime, out: list[CaseEvent]) -> None:
    for subject, deadline in sorted(case.deadlines.items(), key=lambda kv: (kv[1].due_at, kv[0])):
        for action in deadline.actions(now):
            if action == Action.WARN:
                case.record(
                    CaseEvent(
                        case.case_id,
                        Kind.WARNING_RAISED,
                        subject,
                        deadline.warn_at or now,
                        now,
                        {"due_at": deadline.due_at.isoformat()},
                    ),
                    out,
                )
            elif action == Action.DEEM:
                step = subject.removeprefix("step:")
                case.record(
                    CaseEvent(
                        case.case_id,
                        Kind.DEEMED_APPROVED,
                        step,
                        deadline.due_at,
                        now,
                        {
                            "department": case.plan.step(step).department,
                            "source": {
                                "deemed_approval": True,
                                "due_at": deadline.due_at.isoformat(),
                            },
                        },
                    ),
                    out,
                )
            else:
                kind = (
                    Kind.COMPLAINT_ESCALATED if subject.startswith("complaint:") else Kind.ESCALATED
                )
                case.record(
                    CaseEvent(
                        case.case_id,
                        kind,
                        subject,
                        deadline.due_at,
                        now,
                        {"due_at": deadline.due_at.isoformat()},
                    ),
                    out,
                )


def _complete(case: Case, now: datetime, out: list[CaseEvent]) -> None:
    if case.status != "open" or not all(s.done for s in case.steps.values()):
        return
    if any(status == "missing" for status in case.items.values()):
        return
    times = [s.done_at for s in case.steps.values() if s.done_at] + [
        e.at for e in case.timeline if e.kind == Kind.ITEM_SUPPLIED
    ]
    at = max([case.accepted_at, *times])
    due = case.deadlines["case"].due_at
    sources = {name: s.source for name, s in case.steps.items()}
    case.record(
        CaseEvent(
            case.case_id,
            Kind.CASE_COMPLETED,
            "case",
            at,
            now,
            {"late": at > due, "due_at": due.isoformat()},
        ),
        out,
    )
    case.record(
        CaseEvent(
            case.case_id,
            Kind.NOTICE_ISSUED,
            "completion",
            at,
            now,
            completion_notice(case.case_id, case.plan, sources),
        ),
        out,
    )
    if case.plan.notify_utilities and isinstance(case.form, TransferForm):
        certificate = case.steps["registration"].source
        case.record(
            CaseEvent(
                case.case_id,
                Kind.UTILITIES_NOTIFIED,
                "utilities",
                at,
                now,
                utilities_notice(
                    case.case_id, case.form.unit_number, case.form.applicant_name, certificate
                ),
            ),
            out,
        )
