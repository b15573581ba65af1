"""Property registration and enterprise deregistration cases: order rules and limits."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest

from consumers.desk.domain import (
    Case,
    CaseEvent,
    Kind,
    accept,
    advance,
    parse_form,
)
from exchange.identifiers import make_credit_code, make_unit_number

pytestmark = pytest.mark.unit

RNG = random.Random(7)
UNIT = make_unit_number(RNG, "510903")
CODE = make_credit_code(RNG, "510903")
MONDAY = datetime.fromisoformat("2025-09-22T09:00+08:00")


def t(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


def record(
    kind: str, key: str, facts: dict[str, str], collections: dict[str, Any] | None = None
) -> dict[str, Any]:
    history = sorted(
        (
            {
                "event_id": f"ev-{n}",
                "event_type": n,
                "department": n.split(".")[0],
                "occurred_at": t(at).isoformat(),
            }
            for n, at in facts.items()
        ),
        key=lambda h: (h["occurred_at"], h["event_id"]),
    )
    return {
        "kind": kind,
        "key": key,
        "fields": {},
        "history": history,
        "facts": {h["event_type"]: {**h, "count": 1} for h in history},
        "collections": collections or {},
    }


def transfer(kind: str = "enterprise_to_enterprise", now: datetime = MONDAY) -> Case:
    form = parse_form(
        {
            "case_type": "transfer",
            "unit_number": UNIT,
            "registration_type": kind,
            "applicant_name": "遂宁示范有限公司",
        }
    )
    return accept("p1", form, now)[0]


def kinds(events: list[CaseEvent]) -> list[tuple[str, str]]:
    return [(e.kind.value, e.subject) for e in events]


BASE = {"realestate.unit_registered": "2020-05-01T10:00"}


@pytest.mark.parametrize(
    ("kind", "due"),
    [
        ("mortgage_cancellation", "2025-09-22T09:15"),  # immediate (15 min allowance)
        ("seizure", "2025-09-22T09:15"),
        ("objection", "2025-09-22T09:15"),
        ("change_registration", "2025-09-22T10:00"),  # one of the 11 simple types: 1 h
        ("certificate_reissue", "2025-09-22T10:00"),
        ("enterprise_to_enterprise", "2025-09-22T17:30"),  # 1 working day
        ("mortgage_registration", "2025-09-22T17:30"),
        ("sale", "2025-09-24T17:30"),  # others: 3 working days
    ],
)
def test_limit_by_registration_type(kind: str, due: str) -> None:
    case = transfer(kind)
    assert case.deadlines["case"].due_at == t(due)
    assert all(d.due_at == t(due) for s, d in case.deadlines.items() if s.startswith("step:"))


def test_eleven_simple_types() -> None:
    from consumers.desk.domain.transfer import SIMPLE_TYPES

    assert len(SIMPLE_TYPES) == len(set(SIMPLE_TYPES)) == 11


def test_completed_transfer_notifies_water_power_and_gas() -> None:
    case = transfer()
    facts = {
        **BASE,
        "realestate.contract_filed": "2025-09-19T15:00",
        "tax.property_tax_paid": "2025-09-22T10:00",
        "realestate.certificate_issued": "2025-09-22T11:00",
    }
    events = advance(case, record("property", UNIT, facts), t("2025-09-22T11:05"))
    assert case.status == "completed"
    utilities = [e for e in events if e.kind == Kind.UTILITIES_NOTIFIED]
    assert len(utilities) == 1 and utilities[0].data["recipients"] == ["water", "power", "gas"]
    assert utilities[0].data["certificate"]["event_id"] == "ev-realestate.certificate_issued"


def test_tax_before_certificate_holds_the_registration() -> None:
    case = transfer()
    facts = {
        **BASE,
        "realestate.contract_filed": "2025-09-19T15:00",
        "realestate.certificate_issued": "2025-09-22T11:00",
    }
    held = advance(case, record("property", UNIT, facts), t("2025-09-22T11:05"))
    assert ("step_held", "registration") in kinds(held)
    assert case.steps["registration"].status == "held" and case.status == "open"
    # the tax payment arrives late but happened before the certificate: no violation
    facts["tax.property_tax_paid"] = "2025-09-22T10:30"
    done = advance(case, record("property", UNIT, facts), t("2025-09-22T11:30"))
    assert ("step_completed", "registration") in kinds(done)
    assert not any(e.kind == Kind.ORDER_VIOLATION for e in done)


def test_certificate_issued_before_taxes_paid_is_flagged() -> None:
    case = transfer()
    facts = {
        **BASE,
        "realestate.contract_filed": "2025-09-19T15:00",
        "tax.property_tax_paid": "2025-09-22T11:30",
        "realestate.certificate_issued": "2025-09-22T11:00",
    }
    events = advance(case, record("property", UNIT, facts), t("2025-09-22T12:00"))
    violation = [e for e in events if e.kind == Kind.ORDER_VIOLATION]
    assert len(violation) == 1 and violation[0].data["occurred_before"] == ["tax_paid"]


def test_seizure_objection_and_mortgage_block_the_transfer() -> None:
    case = transfer()
    facts = {
        **BASE,
        "realestate.contract_filed": "2025-09-19T15:00",
        "tax.property_tax_paid": "2025-09-22T10:00",
        "realestate.seizure_registered": "2025-09-01T10:00",
        "realestate.mortgage_registered": "2021-01-01T10:00",
        "realestate.certificate_issued": "2025-09-22T11:00",
    }
    blocked = {
        "seizures": {"s1": {"state": "active"}},
        "objections": {},
        "mortgages": {"m1": {"state": "registered"}},
    }
    advance(case, record("property", UNIT, facts, blocked), t("2025-09-22T11:05"))
    assert case.steps["title_clear"].status == "started"
    assert case.steps["mortgage_handled"].status == "started"
    assert case.steps["registration"].status == "held"
    facts |= {
        "realestate.seizure_lifted": "2025-09-22T09:30",
        "realestate.mortgage_released": "2025-09-22T09:45",
    }
    cleared = {"seizures": {"s1": {"state": "lifted"}}, "mortgages": {"m1": {"state": "released"}}}
    advance(case, record("property", UNIT, facts, cleared), t("2025-09-22T11:10"))
    assert (case.steps["title_clear"].source or {})["event_id"] == "ev-realestate.seizure_lifted"
    mortgage = case.steps["mortgage_handled"].source or {}
    assert mortgage["event_id"] == "ev-realestate.mortgage_released"
    assert case.status == "completed"


def test_an_old_certificate_is_not_this_cases_certificate() -> None:
    case = transfer("certificate_reissue")
    facts = {**BASE, "realestate.certificate_issued": "2020-05-01T10:00"}
    advance(case, record("property", UNIT, facts), t("2025-09-22T09:30"))
    assert case.completed_at is None
    facts["realestate.certificate_issued"] = "2025-09-22T09:40"
    advance(case, record("property", UNIT, facts), t("2025-09-22T09:45"))
    assert case.status == "completed"


def test_immediate_types_complete_on_the_matching_fact() -> None:
    case = transfer("mortgage_cancellation")
    rec = record("property", UNIT, {**BASE, "realestate.mortgage_released": "2025-09-22T09:05"})
    assert ("case_completed", "case") in kinds(advance(case, rec, t("2025-09-22T09:06")))
    late = transfer("seizure")
    assert ("escalated", "step:seizure") in kinds(advance(late, None, t("2025-09-22T09:15")))


def deregistration(now: datetime = MONDAY) -> Case:
    form = parse_form({"case_type": "deregistration", "credit_code": CODE})
    return accept("d1", form, now)[0]


def test_deregistration_completes_in_order() -> None:
    case = deregistration()
    assert case.deadlines["case"].due_at == t("2025-09-24T17:30")
    facts = {
        "tax.clearance_issued": "2025-09-22T10:00",
        "social.employer_account_closed": "2025-09-22T10:30",
        "market.deregistered": "2025-09-22T11:00",
    }
    events = advance(case, record("enterprise", CODE, facts), t("2025-09-22T11:05"))
    assert case.status == "completed"
    assert not any(e.kind == Kind.ORDER_VIOLATION for e in events)
    # the market step's clock started when both closures were done
    started = next(e for e in events if e.kind == Kind.STEP_STARTED)
    assert started.subject == "market_deregistered" and started.at == t("2025-09-22T10:30")


def test_deregistered_before_tax_clearance_is_flagged() -> None:
    case = deregistration()
    early = {
        "social.employer_account_closed": "2025-09-22T10:30",
        "market.deregistered": "2025-09-22T11:00",
    }
    held = advance(case, record("enterprise", CODE, early), t("2025-09-22T11:05"))
    assert ("step_held", "market_deregistered") in kinds(held)
    assert held[-1].data["waiting_for"] == ["tax_clearance"]
    late_tax = {**early, "tax.clearance_issued": "2025-09-22T14:00"}
    events = advance(case, record("enterprise", CODE, late_tax), t("2025-09-22T14:05"))
    violation = [e for e in events if e.kind == Kind.ORDER_VIOLATION]
    assert len(violation) == 1 and violation[0].subject == "market_deregistered"
    assert violation[0].data["occurred_before"] == ["tax_clearance"]


def test_tax_clearance_by_data_sharing_meets_a_missing_item() -> None:
    form = parse_form(
        {
            "case_type": "deregistration",
            "credit_code": CODE,
            "missing_items": [{"item": "tax_clearance_certificate", "promise": True}],
        }
    )
    case, events = accept("d1", form, MONDAY)
    assert ("promise_refused", "tax_clearance_certificate") in kinds(events)
    rec = record("enterprise", CODE, {"tax.clearance_issued": "2025-09-22T10:00"})
    supplied = advance(case, rec, t("2025-09-22T10:05"))
    assert ("item_supplied", "tax_clearance_certificate") in kinds(supplied)
    assert case.items["tax_clearance_certificate"] == "supplied"
