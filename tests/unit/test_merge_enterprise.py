"""Enterprise records: provenance, facts, completeness, authority, conflicts, lifecycle."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from test_merge_samples import CREDIT, CREDIT_B, UNIT, ev, fold, roundtrip

from exchange.errors import ValidationError
from exchange.events import DepartmentEvent
from exchange.merge import (
    EXPECTED_FACTS,
    RecordMismatch,
    UnknownEventType,
    merge,
    new_record,
    record_kind_for,
)

pytestmark = pytest.mark.unit


def test_new_record_has_the_documented_shape_and_everything_missing() -> None:
    record = new_record("enterprise", CREDIT)
    assert set(record) >= {
        "kind",
        "key",
        "fields",
        "facts",
        "completeness",
        "conflicts",
        "status",
        "collections",
        "history",
        "owner_enterprise",
    }
    assert record["status"] == "pending"
    assert record["completeness"]["tax"] == {
        "arrived": [],
        "missing": ["tax.taxpayer_registered", "tax.invoices_approved"],
    }
    assert set(record["completeness"]) == set(EXPECTED_FACTS["enterprise"])
    with pytest.raises(ValueError, match="unknown record kind"):
        new_record("person", "x")


def test_fields_say_who_said_what_and_when_in_json_form() -> None:
    record = merge(
        None,
        ev("market.established", minute=1.5, event_id="e1", registered_capital=Decimal("100000")),
    )
    assert record["fields"]["name"] == {
        "value": "成都甲科技有限公司",
        "department": "market",
        "event_id": "e1",
        "occurred_at": "2024-03-01T08:01:30.000Z",
    }
    assert record["fields"]["registered_capital"]["value"] == "100000.00"
    assert record["fields"]["established_on"]["value"] == "2024-03-01"
    assert record["history"] == [
        {
            "event_id": "e1",
            "event_type": "market.established",
            "department": "market",
            "occurred_at": "2024-03-01T08:01:30.000Z",
        }
    ]
    assert roundtrip(record) == record


def test_times_in_other_zones_and_naive_times_are_stored_as_utc() -> None:
    from datetime import timedelta, timezone

    shanghai = timezone(timedelta(hours=8))
    base = ev("market.established", event_id="e1")
    zoned = DepartmentEvent(
        **{**_as_kwargs(base), "occurred_at": datetime(2024, 3, 1, 16, 0, tzinfo=shanghai)}
    )
    naive = DepartmentEvent(**{**_as_kwargs(base), "occurred_at": datetime(2024, 3, 1, 8, 0)})
    assert merge(None, zoned)["facts"]["market.established"]["occurred_at"] == (
        "2024-03-01T08:00:00.000Z"
    )
    assert merge(None, naive) == merge(None, zoned)


def _as_kwargs(event: DepartmentEvent) -> dict[str, object]:
    return {
        f: getattr(event, f)
        for f in ("event_type", "event_id", "department", "occurred_at", "key", "body", "trace_id")
    }


def test_the_latest_event_by_its_own_time_wins_whatever_the_arrival() -> None:
    older = ev("social.employees_enrolled", minute=1, employee_count=3)
    newer = ev("social.employees_enrolled", minute=5, employee_count=12)
    for order in ([older, newer], [newer, older]):
        record = fold(order)
        assert record["fields"]["employee_count"]["value"] == 12  # latest, not a sum
        assert record["facts"]["social.employees_enrolled"] == {
            "event_id": newer.event_id,
            "occurred_at": "2024-03-01T08:05:00.000Z",
            "count": 2,
        }


def test_ties_in_time_are_broken_by_event_id() -> None:
    a = ev("bank.account_opened", minute=2, event_id="a", bank_name="甲银行")
    b = ev("bank.account_opened", minute=2, event_id="b", bank_name="乙银行")
    assert fold([a, b])["fields"]["bank_name"]["value"] == "乙银行"
    assert fold([b, a])["fields"]["bank_name"]["value"] == "乙银行"


def test_the_same_event_again_changes_nothing() -> None:
    event = ev("tax.invoices_approved")
    record = merge(None, event)
    assert merge(record, event) is record
    assert record["facts"]["tax.invoices_approved"]["count"] == 1


def test_merge_does_not_mutate_the_old_record() -> None:
    record = fold([ev("market.established", minute=1), ev("tax.taxpayer_registered", minute=2)])
    before = copy.deepcopy(record)
    merge(record, ev("market.changed", minute=3, name="成都丙公司"))
    merge(record, ev("market.abnormal_listed", minute=4))
    assert record == before


def test_completeness_lists_arrived_and_missing_per_department() -> None:
    record = fold([ev("tax.taxpayer_registered"), ev("market.changed"), ev("seal.seal_engraved")])
    assert record["completeness"]["tax"] == {
        "arrived": ["tax.taxpayer_registered"],
        "missing": ["tax.invoices_approved"],
    }
    # Unexpected facts show as arrived; the expected one is still missing.
    assert record["completeness"]["market"] == {
        "arrived": ["market.changed"],
        "missing": ["market.established"],
    }
    assert record["completeness"]["seal"] == {"arrived": ["seal.seal_engraved"], "missing": []}
    assert record["completeness"]["bank"] == {"arrived": [], "missing": ["bank.account_opened"]}


def test_market_owns_the_name_and_disagreement_is_a_conflict() -> None:
    market = ev("market.established", minute=1, name="成都甲科技有限公司")
    tax = ev("tax.taxpayer_registered", minute=9, taxpayer_name="成都乙贸易有限公司")
    for order in ([market, tax], [tax, market]):
        record = fold(order)
        assert record["fields"]["name"]["department"] == "market"
        assert record["fields"]["name"]["value"] == "成都甲科技有限公司"
        [conflict] = [c for c in record["conflicts"] if c["attribute"] == "name"]
        assert conflict["values"] == [
            {
                "department": "market",
                "value": "成都甲科技有限公司",
                "event_id": market.event_id,
                "occurred_at": "2024-03-01T08:01:00.000Z",
            },
            {
                "department": "tax",
                "value": "成都乙贸易有限公司",
                "event_id": tax.event_id,
                "occurred_at": "2024-03-01T08:09:00.000Z",
            },
        ]


def test_a_conflict_disappears_when_the_departments_agree_again() -> None:
    record = fold(
        [
            ev("market.established", minute=1, name="成都甲科技有限公司"),
            ev("tax.taxpayer_registered", minute=2, taxpayer_name="成都乙贸易有限公司"),
        ]
    )
    assert [c["attribute"] for c in record["conflicts"]] == ["name"]
    record = merge(record, ev("market.changed", minute=3, name="成都乙贸易有限公司"))
    assert record["conflicts"] == []
    assert record["fields"]["name"]["value"] == "成都乙贸易有限公司"
    # An older market change arriving late does not bring the conflict back.
    record = merge(record, ev("market.changed", minute=2.5, name="成都丙公司"))
    assert record["conflicts"] == []


def test_spelling_variants_are_not_conflicts() -> None:
    record = fold(
        [
            ev(
                "market.established",
                name="成都甲科技有限公司（武侯）",
                registered_address="成都市武侯区天府大道1号",
            ),
            ev(
                "social.employer_registered",
                employer_name="成都 甲科技有限公司(武侯)",
                registered_address="成都市武侯区天府大道１号",
            ),
        ]
    )
    assert record["conflicts"] == []


def test_without_market_the_next_authority_fills_the_field() -> None:
    social = ev("social.employer_registered", minute=9, employer_name="社保名")
    tax = ev("tax.taxpayer_registered", minute=1, taxpayer_name="税务名")
    record = fold([social, tax])
    assert record["fields"]["name"]["department"] == "tax"  # tax outranks social, not time
    record = merge(record, ev("market.established", minute=0, name="市场名"))
    assert record["fields"]["name"]["value"] == "市场名"
    assert [v["department"] for v in record["conflicts"][0]["values"]] == [
        "market",
        "tax",
        "social",
    ]


def test_attributes_a_market_change_leaves_out_keep_their_value() -> None:
    record = fold(
        [
            ev("market.established", minute=1, registered_address="成都市武侯区天府大道1号"),
            ev("market.changed", minute=2, name="新名称", registered_address=None),
        ]
    )
    assert record["fields"]["registered_address"]["value"] == "成都市武侯区天府大道1号"
    assert record["fields"]["name"]["value"] == "新名称"
    assert record["fields"]["last_changed_on"]["value"] == "2024-03-01"


@pytest.mark.parametrize(
    ("events", "status"),
    [
        ([], "pending"),
        ([("tax.taxpayer_registered", 1)], "pending"),
        ([("market.established", 1)], "active"),
        ([("market.established", 1), ("market.abnormal_listed", 2)], "abnormal"),
        (
            [
                ("market.established", 1),
                ("market.abnormal_listed", 2),
                ("market.abnormal_removed", 3),
            ],
            "active",
        ),
        (
            [
                ("market.established", 1),
                ("market.abnormal_removed", 2),
                ("market.abnormal_listed", 3),
            ],
            "abnormal",
        ),
        (
            [("market.established", 1), ("market.simplified_deregistration_notice", 2)],
            "in_deregistration",
        ),
        (
            [
                ("market.established", 1),
                ("market.simplified_deregistration_notice", 2),
                ("market.abnormal_listed", 3),
                ("market.abnormal_removed", 4),
            ],
            "active",
        ),
        (
            [
                ("market.established", 1),
                ("market.abnormal_listed", 2),
                ("market.abnormal_removed", 3),
                ("market.simplified_deregistration_notice", 4),
            ],
            "in_deregistration",
        ),
        (
            [("market.established", 1), ("market.deregistered", 5), ("market.changed", 6)],
            "deregistered",
        ),
        ([("market.abnormal_listed", 1)], "pending"),
    ],
)
def test_status_follows_market_facts_by_their_times(
    events: list[tuple[str, float]], status: str
) -> None:
    built = [ev(t, minute=m) for t, m in events]
    assert fold(reversed(built), new_record("enterprise", CREDIT))["status"] == status
    assert fold(built, new_record("enterprise", CREDIT))["status"] == status


def test_tax_and_social_lifecycle_and_deregistration_readiness() -> None:
    record = fold(
        [ev("tax.taxpayer_registered", minute=1), ev("social.employer_registered", minute=1)]
    )
    assert record["lifecycle"] == {
        "tax": "registered",
        "social": "registered",
        "deregistration_ready": False,
    }
    record = merge(record, ev("tax.clearance_issued", minute=5))
    assert record["lifecycle"]["tax"] == "cleared"
    assert not record["lifecycle"]["deregistration_ready"]
    record = merge(record, ev("social.employer_account_closed", minute=6))
    assert record["lifecycle"] == {
        "tax": "cleared",
        "social": "closed",
        "deregistration_ready": True,
    }


def test_history_is_sorted_by_time_then_id() -> None:
    events = [
        ev("seal.seal_engraved", minute=3, event_id="c"),
        ev("bank.account_opened", minute=1, event_id="z"),
        ev("tax.invoices_approved", minute=3, event_id="a"),
    ]
    assert [h["event_id"] for h in fold(events)["history"]] == ["z", "a", "c"]


def test_events_for_another_record_are_refused() -> None:
    record = merge(None, ev("market.established"))
    with pytest.raises(ValueError, match="not about the record's key"):
        merge(record, ev("market.changed", key=CREDIT_B))
    with pytest.raises(RecordMismatch, match="property record"):
        merge(record, ev("realestate.unit_registered", key=CREDIT))
    with pytest.raises(ValidationError, match="credit_code"):
        merge(record, ev("market.changed", credit_code=CREDIT_B))
    wrong_department = DepartmentEvent(**{**_as_kwargs(ev("market.changed")), "department": "tax"})
    with pytest.raises(ValidationError, match="department"):
        merge(record, wrong_department)
    assert UNIT  # property keys are tested in test_merge_property


def test_unknown_event_types_are_a_clear_error() -> None:
    odd = DepartmentEvent(
        event_type="market.renamed",
        event_id="x",
        department="market",
        occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
        key=CREDIT,
        body={},
    )
    with pytest.raises(UnknownEventType, match="market.renamed"):
        merge(None, odd)
    with pytest.raises(ValueError):
        record_kind_for("police.seal_engraved")
