"""Property records: ownership, contracts, encumbrances, taxes, buyer conflicts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from test_merge_samples import CREDIT, CREDIT_B, UNIT, UNIT_B, ev, fold, owner, roundtrip

from exchange.merge import RecordMismatch, merge, new_record

pytestmark = pytest.mark.unit

JIA = owner("成都甲科技有限公司", CREDIT)
YI = owner("成都乙贸易有限公司", CREDIT_B)
WANG = owner("王五")


def test_empty_property_record() -> None:
    record = new_record("property", UNIT)
    assert record["status"] == "pending"
    assert record["encumbrances"] == {
        "active_mortgages": 0,
        "active_seizures": 0,
        "active_objections": 0,
    }
    assert record["completeness"] == {
        "realestate": {
            "arrived": [],
            "missing": [
                "realestate.unit_registered",
                "realestate.contract_filed",
                "realestate.certificate_issued",
            ],
        },
        "tax": {"arrived": [], "missing": ["tax.property_tax_assessed", "tax.property_tax_paid"]},
    }
    assert record["owner_enterprise"] is None


def test_current_owners_follow_the_latest_registration_by_time() -> None:
    first = ev("realestate.unit_registered", minute=1, registration_kind="FIRST", owners=[JIA])
    transfer = ev(
        "realestate.unit_registered", minute=9, registration_kind="TRANSFER", owners=[WANG]
    )
    for order in ([first, transfer], [transfer, first]):
        record = fold(order)
        ownership = record["collections"]["ownership"]
        assert [o["name"] for o in ownership["current"]] == ["王五"]
        assert ownership["since"]["event_id"] == transfer.event_id
        assert [h["event_id"] for h in ownership["history"]] == [first.event_id, transfer.event_id]
        assert ownership["history"][0]["owners"][0]["share_percent"] == "100.00"
        assert record["fields"]["owners"]["value"] == ownership["current"]
        assert record["status"] == "registered"
        assert record["owner_enterprise"] is None  # a person owns it now


def test_owner_enterprise_before_any_snapshot_comes_from_the_registry() -> None:
    record = merge(
        None,
        ev(
            "realestate.unit_registered",
            owners=[owner("甲", CREDIT, "40"), owner("乙", CREDIT_B, "60")],
        ),
    )
    assert record["owner_enterprise"] == {
        "credit_code": CREDIT_B,
        "name": "乙",
        "status": None,
        "as_of": None,
    }


@pytest.mark.parametrize(
    ("kind", "id_field", "opening", "closing", "active", "closed", "counter"),
    [
        (
            "mortgages",
            "mortgage_id",
            "realestate.mortgage_registered",
            "realestate.mortgage_released",
            "registered",
            "released",
            "active_mortgages",
        ),
        (
            "seizures",
            "seizure_id",
            "realestate.seizure_registered",
            "realestate.seizure_lifted",
            "active",
            "lifted",
            "active_seizures",
        ),
        (
            "objections",
            "objection_id",
            "realestate.objection_registered",
            "realestate.objection_cancelled",
            "active",
            "cancelled",
            "active_objections",
        ),
    ],
)
def test_encumbrance_lifecycles_by_id(
    kind: str,
    id_field: str,
    opening: str,
    closing: str,
    active: str,
    closed: str,
    counter: str,
) -> None:
    open_1 = ev(opening, minute=1, **{id_field: "X1"})
    open_2 = ev(opening, minute=2, **{id_field: "X2"})
    close_1 = ev(closing, minute=3, **{id_field: "X1"})
    for order in ([open_1, open_2, close_1], [close_1, open_2, open_1]):
        record = fold(order)
        items = record["collections"][kind]
        assert items["X1"]["state"] == closed
        assert items["X2"]["state"] == active
        assert items["X1"][_phase(closing)]["event_id"] == (close_1.event_id)
        assert record["encumbrances"][counter] == 1
    # A closing that arrived alone already counts; the opening does not reopen it.
    record = fold([close_1])
    assert record["collections"][kind]["X1"]["state"] == closed
    assert record["encumbrances"][counter] == 0


def _phase(event_type: str) -> str:
    return event_type.rsplit("_", 1)[1]


def test_mortgage_registered_again_after_release_is_active_again() -> None:
    record = fold(
        [
            ev("realestate.mortgage_registered", minute=1, mortgage_id="M1"),
            ev("realestate.mortgage_released", minute=2, mortgage_id="M1"),
            ev(
                "realestate.mortgage_registered",
                minute=3,
                mortgage_id="M1",
                secured_amount=Decimal("5"),
            ),
        ]
    )
    mortgage = record["collections"]["mortgages"]["M1"]
    assert mortgage["state"] == "registered"
    assert mortgage["registered"]["secured_amount"] == "5.00"
    assert record["encumbrances"]["active_mortgages"] == 1


def test_taxes_per_contract_count_each_payment_once() -> None:
    record = fold(
        [
            ev(
                "tax.property_tax_assessed",
                minute=1,
                contract_number="C1",
                total_due=Decimal("3000"),
            ),
            ev(
                "tax.property_tax_paid",
                minute=2,
                contract_number="C1",
                amount_paid=Decimal("1000"),
                payment_reference="P1",
            ),
            # The same payment republished under a new event id counts once.
            ev(
                "tax.property_tax_paid",
                minute=2.5,
                contract_number="C1",
                amount_paid=Decimal("1000"),
                payment_reference="P1",
            ),
            ev(
                "tax.property_tax_paid",
                minute=3,
                contract_number="C2",
                amount_paid=Decimal("10"),
                payment_reference="P9",
            ),
        ]
    )
    assert record["taxes"] == {
        "C1": {"assessed": "3000.00", "paid": "1000.00", "paid_in_full": False},
        "C2": {"assessed": None, "paid": "10.00", "paid_in_full": False},
    }
    record = merge(
        record,
        ev(
            "tax.property_tax_paid",
            minute=4,
            contract_number="C1",
            amount_paid=Decimal("2000"),
            payment_reference="P2",
        ),
    )
    assert record["taxes"]["C1"] == {"assessed": "3000.00", "paid": "3000.00", "paid_in_full": True}
    # A later re-assessment replaces the total due.
    record = merge(
        record,
        ev("tax.property_tax_assessed", minute=5, contract_number="C1", total_due=Decimal("3500")),
    )
    assert record["taxes"]["C1"]["paid_in_full"] is False
    assert record["facts"]["tax.property_tax_paid"]["count"] == 4


def test_tax_payer_not_among_the_buyers_is_a_conflict() -> None:
    contract = ev("realestate.contract_filed", minute=1, contract_number="C1", buyers=[JIA])
    wrong = ev(
        "tax.property_tax_assessed",
        minute=2,
        contract_number="C1",
        payer_name="成都乙贸易有限公司",
        payer_credit_code=None,
    )
    record = fold([wrong, contract])
    assert record["conflicts"] == [
        {
            "attribute": "buyer[C1]",
            "values": [
                {
                    "department": "realestate",
                    "value": ["成都甲科技有限公司"],
                    "event_id": contract.event_id,
                    "occurred_at": "2024-03-01T08:01:00.000Z",
                },
                {
                    "department": "tax",
                    "value": "成都乙贸易有限公司",
                    "event_id": wrong.event_id,
                    "occurred_at": "2024-03-01T08:02:00.000Z",
                },
            ],
        }
    ]
    # Tax corrects the assessment: by credit code, or by a spelling variant of the name.
    fixed = merge(
        record,
        ev(
            "tax.property_tax_assessed",
            minute=3,
            contract_number="C1",
            payer_name="别名",
            payer_credit_code=CREDIT,
        ),
    )
    assert fixed["conflicts"] == []
    spelled = merge(
        record,
        ev(
            "tax.property_tax_assessed",
            minute=3,
            contract_number="C1",
            payer_name="成都 甲科技有限公司",
            payer_credit_code=None,
        ),
    )
    assert spelled["conflicts"] == []
    # An assessment of another contract is not compared with C1.
    other = merge(
        fixed, ev("tax.property_tax_assessed", minute=4, contract_number="C2", payer_name="谁")
    )
    assert other["conflicts"] == []


def test_property_completeness_and_certificate_fields() -> None:
    record = fold(
        [
            ev("realestate.unit_registered"),
            ev("tax.property_tax_paid"),
            ev("realestate.certificate_issued", electronic=True),
        ]
    )
    assert record["completeness"]["realestate"]["missing"] == ["realestate.contract_filed"]
    assert record["completeness"]["tax"] == {
        "arrived": ["tax.property_tax_paid"],
        "missing": ["tax.property_tax_assessed"],
    }
    assert record["fields"]["certificate_electronic"]["value"] is True
    assert roundtrip(record) == record


def test_property_events_need_a_property_record_of_the_same_unit() -> None:
    record = merge(None, ev("realestate.unit_registered"))
    with pytest.raises(ValueError):
        merge(record, ev("realestate.mortgage_registered", key=UNIT_B))
    with pytest.raises(RecordMismatch):
        merge(record, ev("market.established", key=UNIT))
