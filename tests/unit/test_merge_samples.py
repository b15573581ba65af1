"""Sample department events for the merge tests: plausible bodies for every event type.

Shared by the ``test_merge_*`` modules (imported as a sibling module). Each field has a
small tuple of options: examples use the first, hypothesis strategies draw from all of them,
so names, addresses, ids and owners collide often enough for conflicts and ties to happen.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import strategies as st

from exchange.events import DepartmentEvent
from exchange.merge import EXPECTED_FACTS, Record, merge, record_kind_for
from exchange.merge.catalogue import FIELD_MAP

pytestmark = pytest.mark.unit

CREDIT = "91510107MA6CGDXU5R"
CREDIT_B = "91510100MA62L0XK9B"
UNIT = "510104002003GB00012F00010203"
UNIT_B = "510104002003GB00013F00020101"
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
D0 = date(2024, 3, 1)

NAMES = ("成都甲科技有限公司", "成都 甲科技有限公司", "成都乙贸易有限公司")
ADDRESSES = ("成都市武侯区天府大道1号", "成都市武侯区天府大道１号", "成都市锦江区春熙路9号")
PEOPLE = ("张三", "李四")
MONEY = (Decimal("100000"), Decimal("2500.5"), Decimal("0.10"))
DATES = tuple(D0 + timedelta(days=i) for i in range(3))


def owner(name: str, code: str | None = None, share: str = "100") -> dict[str, Any]:
    """An Owner record (enterprise if ``code`` is given, else a natural person)."""
    return {
        "name": name,
        "owner_type": "ENTERPRISE" if code else "PERSON",
        "credit_code": code,
        "id_number": None if code else "510104199001011234",
        "share_percent": Decimal(share),
    }


OWNER_SETS = (
    [owner("成都甲科技有限公司", CREDIT)],
    [owner("成都乙贸易有限公司", CREDIT_B)],
    [owner("王五")],
    [owner("成都甲科技有限公司", CREDIT, "60"), owner("成都乙贸易有限公司", CREDIT_B, "40")],
)

#: event type -> {field: options}; the key field (credit_code / unit_number) is added.
OPTIONS: dict[str, dict[str, tuple[Any, ...]]] = {
    "market.established": {
        "name": NAMES,
        "entity_type": ("LIMITED_LIABILITY_COMPANY",),
        "legal_representative_name": PEOPLE,
        "legal_representative_id": ("510104199001011234",),
        "registered_address": ADDRESSES,
        "region_code": ("510107",),
        "registered_capital": MONEY,
        "business_scope": ("软件开发", "批发零售"),
        "licence_number": ("510107000012345",),
        "established_on": DATES,
    },
    "market.changed": {
        "changed_on": DATES,
        "name": (None, *NAMES),
        "registered_address": (None, *ADDRESSES),
        "legal_representative_name": (None, *PEOPLE),
        "legal_representative_id": (None,),
        "registered_capital": (None, *MONEY),
        "business_scope": (None, "技术服务"),
    },
    "market.deregistered": {
        "deregistered_on": DATES,
        "simplified": (True, False),
        "reason": ("决议解散",),
    },
    "market.abnormal_listed": {
        "listed_on": DATES,
        "reason": ("ANNUAL_REPORT_NOT_FILED", "FALSE_INFORMATION"),
        "authority": ("武侯区市场监管局",),
    },
    "market.abnormal_removed": {"removed_on": DATES, "reason": ("补报年报",)},
    "market.simplified_deregistration_notice": {"notice_from": DATES, "notice_until": DATES},
    "tax.taxpayer_registered": {
        "taxpayer_name": NAMES,
        "tax_office_code": ("15101070000",),
        "tax_office_name": ("武侯区税务局",),
        "taxpayer_type": ("SMALL_SCALE", "GENERAL"),
        "registered_address": ADDRESSES,
        "legal_representative_name": PEOPLE,
        "registered_on": DATES,
    },
    "tax.invoices_approved": {
        "invoice_kind": ("FULLY_DIGITAL", "VAT_SPECIAL"),
        "monthly_quantity": (25, 50),
        "max_amount_per_invoice": MONEY,
        "tax_control_device_issued": (False, True),
        "approved_on": DATES,
    },
    "tax.clearance_issued": {"certificate_number": ("QS2024001",), "issued_on": DATES},
    "social.employer_registered": {
        "employer_name": NAMES,
        "social_account_number": ("5101070001",),
        "registered_address": ADDRESSES,
        "registered_on": DATES,
    },
    "social.employees_enrolled": {"employee_count": (3, 12), "enrolled_on": DATES},
    "social.housing_fund_opened": {"fund_account_number": ("GJJ0001",), "opened_on": DATES},
    "social.employer_account_closed": {"closed_on": DATES},
    "seal.seal_engraved": {
        "seal_kinds": (["OFFICIAL", "FINANCE"], ["OFFICIAL"]),
        "filing_number": ("YZ001",),
        "engraved_on": DATES,
    },
    "bank.account_opened": {
        "bank_name": ("工商银行成都分行",),
        "account_number": ("4402000009000123",),
        "account_kind": ("BASIC", "GENERAL"),
        "opened_on": DATES,
    },
    "realestate.unit_registered": {
        "registration_kind": ("FIRST", "TRANSFER"),
        "certificate_number": ("川(2024)1号",),
        "owners": OWNER_SETS,
        "area_sqm": (Decimal("88.5"), Decimal("120")),
        "use": ("COMMERCIAL", "OFFICE"),
        "address": ("武侯区天府大道1号1栋1单元203",),
        "registered_on": DATES,
    },
    "realestate.contract_filed": {
        "contract_number": ("C1", "C2"),
        "buyers": OWNER_SETS,
        "sellers": OWNER_SETS[2:3],
        "price": MONEY,
        "filed_on": DATES,
    },
    "realestate.mortgage_registered": {
        "mortgage_id": ("M1", "M2"),
        "mortgagee": ("建设银行",),
        "secured_amount": MONEY,
        "registered_on": DATES,
    },
    "realestate.mortgage_released": {"mortgage_id": ("M1", "M2"), "released_on": DATES},
    "realestate.seizure_registered": {
        "seizure_id": ("S1", "S2"),
        "court": ("武侯区人民法院",),
        "case_number": ("(2024)川0107执1号",),
        "registered_on": DATES,
    },
    "realestate.seizure_lifted": {"seizure_id": ("S1", "S2"), "lifted_on": DATES},
    "realestate.objection_registered": {
        "objection_id": ("O1", "O2"),
        "applicant_name": PEOPLE,
        "registered_on": DATES,
    },
    "realestate.objection_cancelled": {"objection_id": ("O1", "O2"), "cancelled_on": DATES},
    "realestate.certificate_issued": {
        "certificate_number": ("川(2024)1号",),
        "electronic": (True, False),
        "issued_on": DATES,
    },
    "tax.property_tax_assessed": {
        "contract_number": ("C1", "C2"),
        "deed_tax": MONEY,
        "value_added_tax": MONEY,
        "income_tax": MONEY,
        "total_due": MONEY,
        "payer_name": NAMES,
        "payer_credit_code": (None, CREDIT),
        "payer_id_number": (None,),
        "assessed_on": DATES,
    },
    "tax.property_tax_paid": {
        "contract_number": ("C1", "C2"),
        "amount_paid": MONEY,
        "payment_reference": ("P1", "P2", "P3"),
        "paid_on": DATES,
    },
}

ENTERPRISE_TYPES = sorted(t for t in OPTIONS if record_kind_for(t) == "enterprise")
PROPERTY_TYPES = sorted(t for t in OPTIONS if record_kind_for(t) == "property")
_KEY_FIELD = {"enterprise": "credit_code", "property": "unit_number"}
_counter = iter(range(10**9))


def body(event_type: str, key: str, **overrides: Any) -> dict[str, Any]:
    """The default body of ``event_type`` (first option of each field), with overrides."""
    result = {name: options[0] for name, options in OPTIONS[event_type].items()}
    result[_KEY_FIELD[record_kind_for(event_type)]] = key
    result.update(overrides)
    return result


def ev(
    event_type: str,
    key: str | None = None,
    minute: float = 0,
    event_id: str | None = None,
    **overrides: Any,
) -> DepartmentEvent:
    """A department event ``minute`` minutes after T0 with the default body."""
    if key is None:
        key = CREDIT if record_kind_for(event_type) == "enterprise" else UNIT
    return DepartmentEvent(
        event_type=event_type,
        event_id=event_id or f"ev-{next(_counter):06d}",
        department=event_type.split(".")[0],
        occurred_at=T0 + timedelta(minutes=minute),
        key=key,
        body=body(event_type, key, **overrides),
    )


def fold(events: Iterable[DepartmentEvent], record: Record | None = None) -> Record:
    """Merge events one by one into ``record``."""
    for event in events:
        record = merge(record, event)
    assert record is not None
    return record


def roundtrip(record: Any) -> Any:
    """The record as it comes back from a JSON table."""
    return json.loads(json.dumps(record, ensure_ascii=False))


def variant_body(event_type: str, key: str, variant: int) -> dict[str, Any]:
    """Body number ``variant`` of ``event_type``: 0 is the default, others pick options."""
    rng = random.Random(variant)
    result = {
        name: options[rng.randrange(len(options))] if variant else options[0]
        for name, options in OPTIONS[event_type].items()
    }
    result[_KEY_FIELD[record_kind_for(event_type)]] = key
    return result


@st.composite
def event_sets(
    draw: st.DrawFn, kind: str, key: str, max_size: int = 30, minutes: int = 6
) -> list[DepartmentEvent]:
    """Distinct events about ``key`` with times drawn from a few minutes (ties happen).

    Each event is three integers (type, body variant, minute), which keeps generation fast
    and lets hypothesis shrink towards the first type, the default body and T0.
    """
    types = ENTERPRISE_TYPES if kind == "enterprise" else PROPERTY_TYPES
    drawn = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(types) - 1), st.integers(0, 2**16), st.integers(0, minutes)
            ),
            min_size=1,
            max_size=max_size,
        )
    )
    ids = draw(st.permutations(range(len(drawn))))
    return [
        DepartmentEvent(
            event_type=types[t],
            event_id=f"{key[-4:]}-{number:03d}",
            department=types[t].split(".")[0],
            occurred_at=T0 + timedelta(minutes=minute),
            key=key,
            body=variant_body(types[t], key, variant),
        )
        for (t, variant, minute), number in zip(drawn, ids, strict=True)
    ]


def realistic_record_events(kind: str, key: str, size: int, seed: int) -> list[DepartmentEvent]:
    """A deterministic random event set for benchmarks (not for hypothesis)."""
    rng = random.Random(seed)
    types = ENTERPRISE_TYPES if kind == "enterprise" else PROPERTY_TYPES
    events = []
    for i in range(size):
        event_type = rng.choice(types)
        fields = {n: rng.choice(o) for n, o in OPTIONS[event_type].items()}
        events.append(
            ev(event_type, key, minute=rng.randint(0, 600), event_id=f"b{seed}-{i}", **fields)
        )
    return events


def test_samples_cover_the_whole_catalogue() -> None:
    assert set(OPTIONS) == set(FIELD_MAP)
    for kind, departments in EXPECTED_FACTS.items():
        for expected in departments.values():
            assert all(record_kind_for(t) == kind for t in expected)


def test_every_sample_event_merges_into_a_json_record() -> None:
    for event_type in OPTIONS:
        record = merge(None, ev(event_type))
        assert roundtrip(record) == record


def benchmark(records: int = 400) -> None:
    """Print merges per second of CPU time on records of 10, 20 and 30 events.

    Run with ``.venv/bin/python tests/unit/test_merge_samples.py``. CPU time (not wall time)
    so that other processes on a shared machine distort less.
    """
    import time

    for size in (10, 20, 30):
        for kind, key in (("enterprise", CREDIT), ("property", UNIT)):
            sets = [realistic_record_events(kind, key, size, seed) for seed in range(records)]
            start = time.process_time()
            finals = [fold(events) for events in sets]
            fold_rate = records * size / (time.process_time() - start)
            extra = realistic_record_events(kind, key, 1, 10**6)[0]
            start = time.process_time()
            for record in finals:
                merge(record, extra)
            one_more = records / (time.process_time() - start)
            print(
                f"{kind:10} {size:2} events/record: fold {fold_rate:8.0f} merges/s, "
                f"one more event into a full record {one_more:8.0f} merges/s"
            )


if __name__ == "__main__":
    benchmark()
