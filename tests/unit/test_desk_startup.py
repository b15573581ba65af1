"""Enterprise start-up cases: profiles and their limits, cross-cutting rules, idempotence."""

from __future__ import annotations

import random
from datetime import date, datetime
from typing import Any

import pytest

from consumers.desk.domain import (
    Case,
    CaseEvent,
    Kind,
    StartupForm,
    accept,
    advance,
    matches,
    next_deadline,
    parse_form,
    restore,
    supply_item,
    time_left,
)
from exchange.identifiers import make_credit_code, make_resident_id

pytestmark = pytest.mark.unit

RNG = random.Random(4)
CODE = make_credit_code(RNG, "510113")
REP_ID = make_resident_id(RNG, "510113", date(1985, 3, 1))
ALL = [
    "seal",
    "tax_and_invoices",
    "tax_control_device",
    "social_security",
    "housing_fund",
    "bank_account",
]


def t(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


def form(bundle: list[str] | None = None, **extra: Any) -> StartupForm:
    data: dict[str, Any] = {
        "case_type": "startup",
        "credit_code": CODE,
        "legal_representative_name": "张三",
        "legal_representative_id": REP_ID,
        "address": "成都市青白江区大同路1号",
        "bundle": ALL if bundle is None else bundle,
        **extra,
    }
    parsed = parse_form(data)
    assert isinstance(parsed, StartupForm)
    return parsed


def record(
    facts: dict[str, str], fields: dict[str, Any] | None = None, key: str = CODE
) -> dict[str, Any]:
    """A unified enterprise record with ``facts`` {event type: China time} (design.md shape)."""
    history = [
        {
            "event_id": f"ev-{name}",
            "event_type": name,
            "department": name.split(".")[0],
            "occurred_at": t(at).isoformat(),
        }
        for name, at in sorted(facts.items())
    ]
    return {
        "kind": "enterprise",
        "key": key,
        "facts": {
            h["event_type"]: {
                "event_id": h["event_id"],
                "occurred_at": h["occurred_at"],
                "count": 1,
            }
            for h in history
        },
        "fields": {
            k: {
                "value": v,
                "department": "tax",
                "event_id": "ev-tax.invoices_approved",
                "occurred_at": t("2025-09-22T10:30").isoformat(),
            }
            for k, v in (fields or {}).items()
        },
        "history": sorted(history, key=lambda h: (h["occurred_at"], h["event_id"])),
        "collections": {},
    }


def kinds(events: list[CaseEvent]) -> list[tuple[str, str]]:
    return [(e.kind.value, e.subject) for e in events]


def due(case: Case, subject: str) -> datetime:
    return case.deadlines[subject].due_at


MONDAY = t("2025-09-22T09:00")
ALL_FACTS = {
    "market.established": "2025-09-22T10:00",
    "seal.seal_engraved": "2025-09-22T10:40",
    "tax.taxpayer_registered": "2025-09-22T10:20",
    "tax.invoices_approved": "2025-09-22T10:30",
    "social.employer_registered": "2025-09-22T10:05",
    "social.housing_fund_opened": "2025-09-22T11:00",
    "bank.account_opened": "2025-09-22T11:10",
}


@pytest.mark.parametrize(
    ("profile", "case_due"),
    [
        ("default", "2025-09-22T14:00"),  # 0.5 working day = 3.5 h of office time
        ("qingbaijiang", "2025-09-22T14:30"),  # 4 h
        ("weinan", "2025-09-23T17:30"),  # 2 working days
        ("mianyang", "2025-09-23T17:30"),
        ("sichuan", "2025-09-24T17:30"),  # 3 working days
    ],
)
def test_case_limit_of_each_profile(profile: str, case_due: str) -> None:
    case, _ = accept("c1", form(), MONDAY, profile=profile)
    assert due(case, "case") == t(case_due)
    # the licence starts at acceptance; with no per-step figure it has the case's limit
    if profile != "qingbaijiang":
        assert due(case, "step:licence") == t(case_due)


def test_qingbaijiang_step_limits_start_when_the_licence_is_done() -> None:
    case, _ = accept("c1", form(), MONDAY, profile="qingbaijiang")
    assert due(case, "step:licence") == t("2025-09-22T11:00")  # 2 h
    advance(case, record({"market.established": "2025-09-22T10:00"}), t("2025-09-22T10:01"))
    assert due(case, "step:seal") == t("2025-09-22T12:00")  # 2 h
    assert due(case, "step:tax_and_invoices") == t("2025-09-22T10:50")  # 50 min
    assert due(case, "step:tax_control_device") == t("2025-09-22T10:50")
    assert due(case, "step:social_security") == t("2025-09-22T10:15")  # immediate
    assert due(case, "step:housing_fund") == t("2025-09-22T12:00")
    assert due(case, "step:bank_account") == t("2025-09-22T12:00")


def test_case_completes_with_every_chosen_item_and_names_the_sources() -> None:
    case, _ = accept("c1", form(), MONDAY, profile="qingbaijiang")
    events = advance(
        case, record(ALL_FACTS, {"tax_control_device_issued": True}), t("2025-09-22T11:15")
    )
    completed = {e.subject: e for e in events if e.kind == Kind.STEP_COMPLETED}
    assert set(completed) == {"licence", *ALL}
    seal = completed["seal"].data["source"]
    assert seal["department"] == "seal" and seal["event_id"] == "ev-seal.seal_engraved"
    assert completed["tax_and_invoices"].at == t("2025-09-22T10:30")  # the later of two facts
    assert case.status == "completed" and case.completed_at == t("2025-09-22T11:10")
    assert ("case_completed", "case") in kinds(events)
    assert ("notice_issued", "completion") in kinds(events)
    assert not any(e.kind == Kind.UTILITIES_NOTIFIED for e in events)


def test_case_waits_for_the_tax_control_device_and_only_the_chosen_bundle() -> None:
    case, _ = accept("c1", form(["tax_and_invoices", "tax_control_device"]), MONDAY)
    facts = {k: v for k, v in ALL_FACTS.items() if k.split(".")[0] in ("market", "tax")}
    advance(case, record(facts, {"tax_control_device_issued": False}), t("2025-09-22T11:00"))
    assert case.steps["tax_control_device"].status == "started"
    assert case.completed_at is None
    advance(case, record(facts, {"tax_control_device_issued": True}), t("2025-09-22T11:05"))
    assert case.status == "completed"
    assert set(case.steps) == {"licence", "tax_and_invoices", "tax_control_device"}


def test_advance_is_idempotent_and_deterministic() -> None:
    rec = record(ALL_FACTS, {"tax_control_device_issued": True})
    a, _ = accept("c1", form(), MONDAY)
    b, _ = accept("c1", form(), MONDAY)
    first = advance(a, rec, t("2025-09-22T11:15"))
    assert first and advance(a, rec, t("2025-09-22T11:15")) == []
    assert advance(a, rec, t("2025-09-22T16:00")) == []
    assert [e.to_dict() for e in advance(b, rec, t("2025-09-22T11:15"))] == [
        e.to_dict() for e in first
    ]
    ids = [e.event_id for e in a.timeline]
    assert len(ids) == len(set(ids)) and all(i.startswith("c1/") for i in ids)


def test_a_restored_case_continues_without_repeating() -> None:
    case, _ = accept("c1", form(), MONDAY, profile="qingbaijiang")
    partial = record({"market.established": "2025-09-22T10:00"})
    advance(case, partial, t("2025-09-22T10:40"))
    stored = [CaseEvent.from_dict(e.to_dict()) for e in case.timeline]
    again = restore("c1", form(), stored)
    assert (
        again.steps["seal"].status == "started" and again.deadlines.keys() == case.deadlines.keys()
    )
    assert advance(again, partial, t("2025-09-22T10:40")) == []
    assert kinds(advance(again, partial, t("2025-09-22T12:00"))) == kinds(
        advance(case, partial, t("2025-09-22T12:00"))
    )


def test_warning_comes_before_escalation_and_each_only_once() -> None:
    case, _ = accept("c1", form(["bank_account"]), MONDAY, profile="qingbaijiang")
    # licence: 2 h limit, warning at 80 % (1 h 36 min), escalation at 11:00
    assert next_deadline(case, MONDAY) == t("2025-09-22T10:36")
    assert advance(case, None, t("2025-09-22T10:35")) == []
    warned = advance(case, None, t("2025-09-22T10:36"))
    assert kinds(warned) == [("warning_raised", "step:licence")]
    assert advance(case, None, t("2025-09-22T10:50")) == []
    assert next_deadline(case, t("2025-09-22T10:50")) == t("2025-09-22T11:00")
    escalated = advance(case, None, t("2025-09-22T11:00"))
    assert kinds(escalated) == [("escalated", "step:licence")]
    assert escalated[0].at == t("2025-09-22T11:00")
    # the whole case (4 h, due 14:30) warns at 3 h 12 min of office time (13:42)
    assert kinds(advance(case, None, t("2025-09-22T13:42"))) == [("warning_raised", "case")]
    assert kinds(advance(case, None, t("2025-09-22T14:30"))) == [("escalated", "case")]
    assert advance(case, None, t("2025-09-25T09:00")) == []
    order = [e.kind for e in case.timeline if e.subject == "step:licence"]
    assert order == [Kind.WARNING_RAISED, Kind.ESCALATED]


def test_a_deadline_first_seen_late_escalates_without_a_late_warning() -> None:
    case, _ = accept("c1", form(["bank_account"]), MONDAY, profile="qingbaijiang")
    events = advance(case, None, t("2025-09-22T11:30"))
    assert ("escalated", "step:licence") in kinds(events)
    assert ("warning_raised", "step:licence") not in kinds(events)


def test_deemed_approval_fires_at_the_deadline_and_not_before() -> None:
    case, _ = accept("c1", form(["seal"]), MONDAY, profile="qingbaijiang")
    advance(case, record({"market.established": "2025-09-22T10:00"}), t("2025-09-22T10:00"))
    assert case.plan.step("seal").deemed_approval and due(case, "step:seal") == t(
        "2025-09-22T12:00"
    )
    before = advance(case, None, t("2025-09-22T11:59:59"))
    assert ("deemed_approved", "seal") not in kinds(before)
    assert ("warning_raised", "step:seal") in kinds(before)
    at = advance(case, None, t("2025-09-22T12:00"))
    assert kinds(at)[0] == ("deemed_approved", "seal")
    assert ("escalated", "step:seal") not in kinds(at)
    assert case.steps["seal"].status == "deemed_approved" and case.status == "completed"
    # the police's fact arriving later is still recorded against the step
    later = advance(
        case,
        record(
            {"market.established": "2025-09-22T10:00", "seal.seal_engraved": "2025-09-22T13:40"}
        ),
        t("2025-09-22T14:00"),
    )
    assert kinds(later) == [("step_completed", "seal")]
    assert later[0].data["after_deemed_approval"] is True and later[0].data["late"] is True


def test_steps_without_deemed_approval_escalate_instead() -> None:
    case, _ = accept(
        "c1", form(["seal"]), MONDAY, profile="qingbaijiang", deemed_approval=frozenset()
    )
    advance(case, record({"market.established": "2025-09-22T10:00"}), t("2025-09-22T10:00"))
    assert ("escalated", "step:seal") in kinds(advance(case, None, t("2025-09-22T12:00")))
    assert case.steps["seal"].status == "started"


def test_tell_everything_once_lists_every_missing_item() -> None:
    missing = [
        {"item": "premises_proof", "promise": True},
        "articles_of_association",
        {"item": "legal_representative_id_copy", "promise": True},
    ]
    case, events = accept("c1", form(missing_items=missing), MONDAY)
    notices = [e for e in case.timeline if e.kind == Kind.NOTICE_ISSUED]
    assert len(notices) == 1 and notices[0].subject == "acceptance"
    lines = {line["item"]: line for line in notices[0].data["missing_items"]}
    assert set(lines) == {
        "premises_proof",
        "articles_of_association",
        "legal_representative_id_copy",
    }
    assert (
        lines["premises_proof"]["status"] == "promised"
        and lines["premises_proof"]["due_at"] is None
    )
    five_days = t("2025-09-26T17:30").isoformat()  # 5 working days from Monday 09:00
    assert lines["articles_of_association"]["due_at"] == five_days
    refused = lines["legal_representative_id_copy"]
    assert refused["status"] == "missing" and "high-risk" in refused["promise_refused"]
    assert ("promise_accepted", "premises_proof") in kinds(events)
    assert ("promise_refused", "legal_representative_id_copy") in kinds(events)
    # advancing never tells again
    advance(case, record(ALL_FACTS, {"tax_control_device_issued": True}), t("2025-09-22T12:00"))
    assert len([e for e in case.timeline if e.kind == Kind.NOTICE_ISSUED]) == 1


def test_missing_items_are_tracked_until_met() -> None:
    case, _ = accept("c1", form(missing_items=["articles_of_association"]), MONDAY)
    rec = record(ALL_FACTS, {"tax_control_device_issued": True})
    advance(case, rec, t("2025-09-22T12:00"))
    assert all(s.done for s in case.steps.values()) and case.status == "open"
    assert case.items == {"articles_of_association": "missing"}
    # 5 working days from Monday 09:00 end on Friday 17:30; the warning comes after 4 (80 %)
    assert due(case, "item:articles_of_association") == t("2025-09-26T17:30")
    assert case.deadlines["item:articles_of_association"].warn_at == t("2025-09-25T17:30")
    warned = advance(case, None, t("2025-09-26T16:00"))
    assert ("warning_raised", "item:articles_of_association") in kinds(warned)
    assert ("escalated", "item:articles_of_association") in kinds(
        advance(case, None, t("2025-09-26T17:30"))
    )
    supplied = supply_item(case, "articles_of_association", t("2025-09-29T10:00"))
    assert kinds(supplied)[:2] == [
        ("item_supplied", "articles_of_association"),
        ("case_completed", "case"),
    ]
    assert supply_item(case, "articles_of_association", t("2025-09-29T10:05")) == []


def test_pending_name_case_links_to_the_record_and_takes_its_key() -> None:
    case, _ = accept(
        "c1", form(["seal"], credit_code=None, pending_name="青白江示范有限公司"), MONDAY
    )
    rec = record({"market.established": "2025-09-22T10:00"})
    assert not matches(case, rec)
    rec["fields"]["name"] = {
        "value": "青白江示范有限公司",
        "department": "market",
        "event_id": "ev-market.established",
        "occurred_at": t("2025-09-22T10:00").isoformat(),
    }
    assert matches(case, rec)
    events = advance(case, rec, t("2025-09-22T10:05"))
    assert ("key_assigned", "key") in kinds(events) and case.key == CODE
    assert ("step_completed", "licence") in kinds(events)


def test_time_left_is_office_time() -> None:
    case, _ = accept("c1", form(), MONDAY)
    left = time_left(case, t("2025-09-22T11:00"))
    assert left is not None and left.total_seconds() == 1.5 * 3600  # 11-12 and 13:30-14:00
