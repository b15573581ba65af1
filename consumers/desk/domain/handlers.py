"""Handlers of the desk domain: accept a form, advance a case on a record and/or the clock.

Every handler takes an explicit ``now`` and returns the timeline entries it added (already
applied to the case). Nothing here does I/O. ``advance`` is deterministic and idempotent: the
same case, record and ``now`` give the same entries, and a second call adds none.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from consumers.desk.domain import deregistration, startup, transfer
from consumers.desk.domain.case import Case
from consumers.desk.domain.deadlines import DEFAULT_CONFIG, DeskConfig, schedule
from consumers.desk.domain.errors import CaseStateError, RecordMismatch
from consumers.desk.domain.events import CaseEvent, Kind
from consumers.desk.domain.forms import Form, StartupForm, TransferForm
from consumers.desk.domain.items import item_spec, refusal_reason
from consumers.desk.domain.notices import ItemLine, acceptance_notice
from consumers.desk.domain.progress import deadline_entry, settle
from consumers.desk.domain.records import Record, field_value
from consumers.desk.domain.steps import CasePlan


def make_plan(
    form: Form, profile: str = "default", deemed_approval: frozenset[str] | None = None
) -> CasePlan:
    """The plan of a case for ``form``; ``profile`` is the locality (start-up only)."""
    if isinstance(form, StartupForm):
        result = startup.plan(form, profile)
    elif isinstance(form, TransferForm):
        result = transfer.plan(form)
    else:
        result = deregistration.plan(form)
    return result if deemed_approval is None else result.with_deemed_approval(deemed_approval)


def _key(form: Form) -> str | None:
    if isinstance(form, StartupForm):
        return form.credit_code
    if isinstance(form, TransferForm):
        return form.unit_number
    return form.credit_code


def accept(
    case_id: str,
    form: Form,
    now: datetime,
    *,
    profile: str = "default",
    deemed_approval: frozenset[str] | None = None,
    config: DeskConfig = DEFAULT_CONFIG,
) -> tuple[Case, list[CaseEvent]]:
    """Open a case for a validated form: one acceptance notice, missing items, first steps."""
    plan = make_plan(form, profile, deemed_approval)
    case = Case(case_id, form, plan, now, _key(form))
    out: list[CaseEvent] = []
    warn_at, due_at = schedule(config.calendar, now, plan.case_limit, config.warnings)
    deemed = sorted(s.name for s in plan.steps if s.deemed_approval)
    case.record(
        CaseEvent(
            case_id,
            Kind.CASE_ACCEPTED,
            "case",
            now,
            now,
            {
                "case_type": plan.case_type,
                "profile": profile,
                "deemed_approval": deemed,
                "key": case.key,
                "deadlines": [deadline_entry("case", warn_at, due_at)],
            },
        ),
        out,
    )
    lines: list[ItemLine] = []
    for request in form.missing_items:
        spec = item_spec(plan.case_type, request.item)
        assert spec is not None  # parse_form checked the catalogue
        reason = refusal_reason(spec)
        if request.promise and reason is None:
            case.record(
                CaseEvent(case_id, Kind.PROMISE_ACCEPTED, spec.name, now, now, {"risk": spec.risk}),
                out,
            )
            lines.append(ItemLine(spec, "promised", None))
            continue
        if request.promise:
            case.record(
                CaseEvent(case_id, Kind.PROMISE_REFUSED, spec.name, now, now, {"reason": reason}),
                out,
            )
        item_warn, item_due = schedule(config.calendar, now, spec.limit, config.warnings)
        case.record(
            CaseEvent(
                case_id,
                Kind.ITEM_MISSING,
                spec.name,
                now,
                now,
                {
                    "limit": str(spec.limit),
                    "deadlines": [deadline_entry(f"item:{spec.name}", item_warn, item_due)],
                },
            ),
            out,
        )
        lines.append(ItemLine(spec, "missing", item_due, reason if request.promise else None))
    case.record(
        CaseEvent(
            case_id,
            Kind.NOTICE_ISSUED,
            "acceptance",
            now,
            now,
            acceptance_notice(case_id, plan, lines, due_at),
        ),
        out,
    )
    settle(case, None, now, config, out)
    return case, out


def restore(case_id: str, form: Form, events: Iterable[CaseEvent]) -> Case:
    """Rebuild a case from its form and stored timeline, in the order it was recorded.

    Persist a sequence number with each entry: entries recorded by one call share
    ``recorded_at`` and their ``at`` (the source fact's time) does not give their order.
    """
    ordered = list(events)
    accepted = next((e for e in ordered if e.kind == Kind.CASE_ACCEPTED), None)
    if accepted is None:
        raise CaseStateError(f"case {case_id}: no case_accepted entry to restore from")
    plan = make_plan(
        form, str(accepted.data["profile"]), frozenset(accepted.data.get("deemed_approval", ()))
    )
    case = Case(case_id, form, plan, accepted.at, accepted.data.get("key"))
    for event in ordered:
        case.apply(event)
    return case


def matches(case: Case, record: Record) -> bool:
    """Whether ``record`` is about this case (by key, or by pending name before a licence)."""
    kind = "property" if case.case_type == "transfer" else "enterprise"
    if record.get("kind") != kind:
        return False
    if case.key is not None:
        return bool(record.get("key") == case.key)
    name, _ = field_value(record, "name")
    form = case.form
    return isinstance(form, StartupForm) and name == form.pending_name


def advance(
    case: Case, record: Record | None, now: datetime, config: DeskConfig = DEFAULT_CONFIG
) -> list[CaseEvent]:
    """Bring a case up to date with the latest unified record (or none) and the clock."""
    if record is not None and not matches(case, record):
        raise RecordMismatch(
            f"case {case.case_id} ({case.case_type}, key {case.key}) "
            f"does not match record {record.get('kind')}/{record.get('key')}"
        )
    out: list[CaseEvent] = []
    settle(case, record, now, config, out)
    return out


def supply_item(
    case: Case, item: str, now: datetime, config: DeskConfig = DEFAULT_CONFIG
) -> list[CaseEvent]:
    """The applicant hands in a missing item; no-op if it is already supplied or promised."""
    if item not in case.items:
        raise CaseStateError(f"case {case.case_id}: item {item!r} was not missing at acceptance")
    out: list[CaseEvent] = []
    if case.items[item] == "missing":
        case.record(
            CaseEvent(case.case_id, Kind.ITEM_SUPPLIED, item, now, now, {"by": "applicant"}), out
        )
    settle(case, None, now, config, out)
    return out


def next_deadline(case: Case, now: datetime) -> datetime | None:
    """When a scheduler should next advance the case: ``now`` if something is overdue."""
    pending = [at for d in case.deadlines.values() if (at := d.next_at()) is not None]
    return max(now, min(pending)) if pending else None


def time_left(case: Case, now: datetime, config: DeskConfig = DEFAULT_CONFIG) -> timedelta | None:
    """Office time until the whole case is due (negative when overdue; ``None`` if closed)."""
    deadline = case.deadlines.get("case")
    if case.status != "open" or deadline is None:
        return None
    return config.calendar.working_time_between(now, deadline.due_at)
