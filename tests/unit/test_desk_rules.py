"""The one form's bad input, ratings, complaints, and the desk on records from the merge core."""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from consumers.desk.domain import (
    CaseStateError,
    InvalidForm,
    Kind,
    UnknownProfile,
    accept,
    advance,
    file_complaint,
    next_deadline,
    parse_form,
    rate,
    resolve_complaint,
)
from exchange.events import DepartmentEvent
from exchange.identifiers import (
    corrupt_credit_code_check,
    make_credit_code,
    make_resident_id,
    make_unit_number,
)
from exchange.merge import merge

pytestmark = pytest.mark.unit

RNG = random.Random(11)
CODE = make_credit_code(RNG, "430400")
REP_ID = make_resident_id(RNG, "430400", date(1990, 7, 1))
UNIT = make_unit_number(RNG, "430400")


def t(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


def startup(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "case_type": "startup",
        "credit_code": CODE,
        "legal_representative_name": "李四",
        "legal_representative_id": REP_ID,
        "address": "衡阳市蒸湘区1号",
        "bundle": ["seal"],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        ({"case_type": "annexation"}, "case_type", "unknown case type 'annexation'"),
        (startup(bundle=["seal", "yacht"]), "bundle[1]", "unknown bundle item 'yacht'"),
        (startup(bundle=[]), "bundle", "non-empty list"),
        (startup(bundle=["tax_control_device"]), "bundle", "needs tax_and_invoices"),
        (startup(credit_code=corrupt_credit_code_check(CODE)), "credit_code", "check"),
        (startup(credit_code=None), "credit_code", "exactly one of"),
        (startup(pending_name="某某有限公司"), "credit_code", "exactly one of"),
        (
            startup(legal_representative_id=REP_ID[:-1] + ("0" if REP_ID[-1] != "0" else "1")),
            "legal_representative_id",
            "MOD 11-2",
        ),
        (startup(address=""), "address", "is required"),
        (startup(missing_items=["unicorn"]), "missing_items[0].item", "unknown item 'unicorn'"),
        (
            {
                "case_type": "transfer",
                "unit_number": UNIT,
                "registration_type": "swap",
                "applicant_name": "王五",
            },
            "registration_type",
            "unknown registration type 'swap'",
        ),
        (
            {
                "case_type": "transfer",
                "unit_number": UNIT,
                "registration_type": "sale",
                "applicant_name": "王五",
                "contract_signed_on": "22/09/2025",
            },
            "contract_signed_on",
            "YYYY-MM-DD",
        ),
        (
            {
                "case_type": "transfer",
                "unit_number": UNIT,
                "registration_type": "sale",
                "applicant_name": "王五",
                "contract_signed_on": "2025-02-30",
            },
            "contract_signed_on",
            "no such day",
        ),
        (
            {"case_type": "deregistration", "credit_code": CODE, "simplified": "yes"},
            "simplified",
            "true or false",
        ),
    ],
)
def test_bad_forms_name_the_field_and_the_rule(data: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(InvalidForm) as caught:
        parse_form(data)
    assert caught.value.field == field and rule in caught.value.rule
    assert REP_ID not in str(caught.value)  # a resident ID is never echoed


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(UnknownProfile, match="qingbaijiang"):
        accept("c1", parse_form(startup()), t("2025-09-22T09:00"), profile="atlantis")


def _completed_case() -> Any:
    case, _ = accept("c1", parse_form(startup()), t("2025-09-22T09:00"))
    rec = {
        "kind": "enterprise",
        "key": CODE,
        "fields": {},
        "collections": {},
        "history": [
            {
                "event_id": "a",
                "event_type": "market.established",
                "department": "market",
                "occurred_at": t("2025-09-22T09:30").isoformat(),
            },
            {
                "event_id": "b",
                "event_type": "seal.seal_engraved",
                "department": "seal",
                "occurred_at": t("2025-09-22T10:00").isoformat(),
            },
        ],
        "facts": {},
    }
    advance(case, rec, t("2025-09-22T10:05"))
    assert case.status == "completed"
    return case


def test_rating_once_per_closed_case() -> None:
    open_case, _ = accept("c2", parse_form(startup()), t("2025-09-22T09:00"))
    with pytest.raises(CaseStateError, match="still open"):
        rate(open_case, 5, t("2025-09-22T10:00"))
    case = _completed_case()
    with pytest.raises(InvalidForm, match="between 1 and 5"):
        rate(case, 6, t("2025-09-22T10:10"))
    events = rate(case, 2, t("2025-09-22T10:10"), "慢")
    assert events[0].kind == Kind.RATED and events[0].data == {
        "verdict": "bad",
        "score": 2,
        "comment": "慢",
    }
    with pytest.raises(CaseStateError, match="already rated"):
        rate(case, "good", t("2025-09-22T10:20"))


def test_good_or_bad_ratings() -> None:
    case = _completed_case()
    assert rate(case, "good", t("2025-09-22T10:10"))[0].data["score"] is None


def test_complaints_escalate_after_5_and_30_working_days() -> None:
    case = _completed_case()
    # filed the day before National Day: the holiday does not count
    filed = file_complaint(case, "k1", t("2025-09-30T10:00"), "窗口态度")
    assert [e.kind for e in filed] == [Kind.COMPLAINT_FILED]
    assert file_complaint(case, "k1", t("2025-09-30T10:00")) == []
    assert next_deadline(case, t("2025-09-30T10:00")) == t("2025-10-14T10:00")
    first = advance(case, None, t("2025-10-14T10:00"))
    assert [(e.kind, e.subject) for e in first] == [(Kind.COMPLAINT_ESCALATED, "complaint:k1:5wd")]
    resolve_complaint(case, "k1", t("2025-10-15T10:00"), "已整改")
    assert next_deadline(case, t("2025-10-15T10:00")) is None
    assert advance(case, None, t("2025-12-31T10:00")) == []


def _event(event_type: str, event_id: str, at: str, **body: Any) -> DepartmentEvent:
    return DepartmentEvent(
        event_type, event_id, event_type.split(".")[0], t(at), UNIT, {"unit_number": UNIT, **body}
    )


def test_transfer_on_a_record_built_by_the_merge_core() -> None:
    form = parse_form(
        {
            "case_type": "transfer",
            "unit_number": UNIT,
            "registration_type": "enterprise_to_enterprise",
            "applicant_name": "甲",
        }
    )
    case, _ = accept("p1", form, t("2025-09-22T09:00"))
    events = [
        _event(
            "realestate.seizure_registered",
            "e1",
            "2025-09-01T10:00",
            seizure_id="s1",
            court="法院",
            case_number="n",
            registered_on=date(2025, 9, 1),
        ),
        _event(
            "realestate.contract_filed",
            "e2",
            "2025-09-19T10:00",
            contract_number="C1",
            buyers=[],
            sellers=[],
            price=Decimal("800000.00"),
            filed_on=date(2025, 9, 19),
        ),
        _event(
            "tax.property_tax_paid",
            "e3",
            "2025-09-22T10:00",
            contract_number="C1",
            amount_paid=Decimal("1200.00"),
            payment_reference="P1",
            paid_on=date(2025, 9, 22),
        ),
        _event(
            "realestate.certificate_issued",
            "e4",
            "2025-09-22T11:00",
            certificate_number="X1",
            electronic=True,
            issued_on=date(2025, 9, 22),
        ),
    ]
    record = None
    for event in events:
        record = merge(record, event)
    assert record is not None
    advance(case, record, t("2025-09-22T11:05"))
    assert case.steps["title_clear"].status == "started"  # the seizure still binds
    record = merge(
        record,
        _event(
            "realestate.seizure_lifted",
            "e5",
            "2025-09-22T10:30",
            seizure_id="s1",
            lifted_on=date(2025, 9, 22),
        ),
    )
    done = advance(case, record, t("2025-09-22T11:10"))
    assert case.status == "completed"
    assert any(e.kind == Kind.UTILITIES_NOTIFIED for e in done)
    assert case.steps["registration"].source == {
        "event_type": "realestate.certificate_issued",
        "department": "realestate",
        "event_id": "e4",
        "occurred_at": "2025-09-22T03:00:00+00:00",
    }
