"""Field-level privacy: each role x sharing class x personal flag, derived from the schemas."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from exchange.events import DepartmentEvent
from exchange.identifiers import mask_resident_id
from exchange.merge import merge
from exchange.privacy import (
    ENTITLEMENTS,
    PARTIAL,
    WITHHELD,
    UnknownRole,
    mask_form,
    mask_name,
    mask_record,
    scrub_text,
)
from exchange.schema_fields import FieldPolicy
from exchange.schemas import SchemaRegistry
from exchange.settings import REPO_ROOT

pytestmark = pytest.mark.unit

CODE = "91510104MARN7EDKXH"
REP_ID = "510104199005171231"
OWNER_ID = "110101198001010053"
PAYER_ID = "440524188001010014"
UNIT = "510104001001GB00001F00010001"
IDS = (REP_ID, OWNER_ID, PAYER_ID)


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(REPO_ROOT / "schemas")


def _ev(event_type: str, key: str, n: int, **body: Any) -> DepartmentEvent:
    return DepartmentEvent(
        event_type=event_type, event_id=f"00000000-0000-0000-0000-{n:012d}",
        department=event_type.split(".")[0],
        occurred_at=datetime(2024, 5, 6, 9, n, tzinfo=UTC), key=key, body=body,
    )


def enterprise_record() -> dict[str, Any]:
    record = merge(None, _ev(
        "market.established", CODE, 1, credit_code=CODE, name="成都示例科技有限公司",
        entity_type="LIMITED_LIABILITY_COMPANY", legal_representative_name="张三丰",
        legal_representative_id=REP_ID, registered_address="成都市武侯区一环路1号",
        region_code="510104", registered_capital=Decimal("100000.00"),
        business_scope="软件开发", licence_number="L-1", established_on=date(2024, 5, 6)))
    return merge(record, _ev(
        "tax.taxpayer_registered", CODE, 2, credit_code=CODE, taxpayer_name="成都示例科技有限公司",
        tax_office_code="15101040000", tax_office_name="武侯区税务局", taxpayer_type="SMALL_SCALE",
        registered_address="成都市武侯区一环路1号", legal_representative_name="张三",
        registered_on=date(2024, 5, 6)))


def _owner(name: str, id_number: str | None, code: str | None = None) -> dict[str, Any]:
    return {"name": name, "owner_type": "PERSON" if id_number else "ENTERPRISE",
            "credit_code": code, "id_number": id_number, "share_percent": Decimal("100")}


def property_record() -> dict[str, Any]:
    record = merge(None, _ev(
        "realestate.unit_registered", UNIT, 1, unit_number=UNIT, registration_kind="FIRST",
        certificate_number="川(2024)成都市不动产权第0000001号", owners=[_owner("李四", OWNER_ID)],
        area_sqm=Decimal("88.50"), use="RESIDENTIAL", address="武侯区二环路2号",
        registered_on=date(2024, 5, 6)))
    record = merge(record, _ev(
        "realestate.contract_filed", UNIT, 2, unit_number=UNIT, contract_number="HT-1",
        buyers=[_owner("王五", PAYER_ID)], sellers=[_owner("李四", OWNER_ID)],
        price=Decimal("1000000.00"), filed_on=date(2024, 5, 6)))
    return merge(record, _ev(
        "tax.property_tax_assessed", UNIT, 3, unit_number=UNIT, contract_number="HT-1",
        deed_tax=Decimal("30000.00"), value_added_tax=Decimal("0"), income_tax=Decimal("0"),
        total_due=Decimal("30000.00"), payer_name="赵六", payer_credit_code=None,
        payer_id_number=PAYER_ID, assessed_on=date(2024, 5, 6)))


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


# --- the role table, field by field --------------------------------------------------------

# (attribute, role) -> expected value; the attribute's class and flag come from the schema.
ENTERPRISE_CASES = [
    # unconditional, not personal: everybody
    ("registered_address", "applicant", "成都市武侯区一环路1号"),
    ("registered_address", "clerk", "成都市武侯区一环路1号"),
    ("registered_address", "auditor", "成都市武侯区一环路1号"),
    # unconditional, personal name: masked for the applicant only
    ("legal_representative_name", "applicant", "张**"),
    ("legal_representative_name", "clerk", "张三丰"),
    ("legal_representative_name", "supervisor", "张三丰"),
    # conditional, personal resident ID: withheld / masked / full
    ("legal_representative_id", "applicant", None),
    ("legal_representative_id", "clerk", mask_resident_id(REP_ID)),
    ("legal_representative_id", "auditor", mask_resident_id(REP_ID)),
    ("legal_representative_id", "supervisor", REP_ID),
]


@pytest.mark.parametrize(("attr", "role", "expected"), ENTERPRISE_CASES)
def test_enterprise_field_by_role(registry: SchemaRegistry, attr: str, role: str,
                                  expected: str | None) -> None:
    masked = mask_record(enterprise_record(), role, registry)
    entry = masked["fields"][attr]
    assert entry["value"] == expected
    assert entry["department"] == "market"  # provenance stays
    if expected is None:
        assert entry["masked"] == WITHHELD
    elif expected != enterprise_record()["fields"][attr]["value"]:
        assert entry["masked"] == PARTIAL


def test_mask_shape() -> None:
    assert mask_resident_id(REP_ID) == "510104********1231"
    assert mask_name("张三丰") == "张**"


@pytest.mark.parametrize("role", ["applicant", "clerk", "auditor"])
def test_no_resident_id_anywhere_in_the_output(registry: SchemaRegistry, role: str) -> None:
    for record in (enterprise_record(), property_record()):
        text = dump(mask_record(record, role, registry))
        for rid in IDS:
            assert rid not in text


def test_supervisor_sees_ids_in_full(registry: SchemaRegistry) -> None:
    text = dump(mask_record(property_record(), "supervisor", registry))
    assert OWNER_ID in text and PAYER_ID in text


def test_collections_traced_by_event_id(registry: SchemaRegistry) -> None:
    record = property_record()
    clerk = mask_record(record, "clerk", registry)
    owner = clerk["collections"]["ownership"]["history"][0]["owners"][0]
    assert owner["id_number"] == mask_resident_id(OWNER_ID)
    assert owner["name"] == "李四"
    current = clerk["collections"]["ownership"]["current"][0]  # untraced: by key name
    assert current["id_number"] == mask_resident_id(OWNER_ID)
    applicant = mask_record(record, "applicant", registry)
    assessment = applicant["collections"]["tax_assessments"]["HT-1"]
    assert assessment["deed_tax"] is None  # conditional
    assert assessment["payer_name"] is None  # conditional personal
    assert assessment["assessed_on"] == "2024-05-06"  # unconditional
    assert applicant["collections"]["ownership"]["current"][0]["name"] == "李*"
    assert applicant["taxes"] is None  # derived from conditional amounts
    assert clerk["taxes"] == record["taxes"]


def test_conflict_values_are_cut(registry: SchemaRegistry) -> None:
    ent = enterprise_record()
    conflict = next(c for c in ent["conflicts"] if c["attribute"] == "legal_representative_name")
    assert {v["value"] for v in conflict["values"]} == {"张三丰", "张三"}
    masked = mask_record(ent, "applicant", registry)
    values = next(c for c in masked["conflicts"]
                  if c["attribute"] == "legal_representative_name")["values"]
    assert {v["value"] for v in values} == {"张**", "张*"}
    prop = mask_record(property_record(), "applicant", registry)
    assert prop["conflicts"], "the buyer/payer conflict is still flagged"
    assert all(v["value"] is None and v["masked"] == WITHHELD
               for c in prop["conflicts"] for v in c["values"])


def test_input_record_is_not_modified(registry: SchemaRegistry) -> None:
    record = property_record()
    before = dump(record)
    mask_record(record, "applicant", registry)
    assert dump(record) == before


# --- a class no real schema uses yet: "none" ----------------------------------------------

class FakeRegistry:
    """Two fields of one event type, one of each class the real schemas lack."""

    def __init__(self, policies: Mapping[str, FieldPolicy]) -> None:
        self.policies = policies

    def event_types(self, department: str | None = None) -> list[str]:
        return ["market.established"]

    def field_policies(self, event_type: str) -> Mapping[str, FieldPolicy]:
        return self.policies


@pytest.mark.parametrize("role", sorted(ENTITLEMENTS))
@pytest.mark.parametrize("personal", [False, True])
def test_not_shared_is_shown_to_nobody(role: str, personal: bool) -> None:
    fake = FakeRegistry({"business_scope": FieldPolicy(
        "business_scope", "none", personal, None, False, "secret")})
    record = enterprise_record()
    masked = mask_record(record, role, fake)
    assert masked["fields"]["business_scope"] == {
        **record["fields"]["business_scope"], "value": None, "masked": WITHHELD}
    assert "软件开发" not in dump(masked)


def test_untraced_value_is_withheld() -> None:
    fake = FakeRegistry({})  # the schema no longer knows the field: fail closed
    masked = mask_record(enterprise_record(), "supervisor", fake)
    assert masked["fields"]["name"]["masked"] == WITHHELD


# --- forms, roles, text --------------------------------------------------------------------

FORM = {"case_type": "startup", "credit_code": CODE, "legal_representative_name": "张三丰",
        "legal_representative_id": REP_ID, "address": "一环路1号", "bundle": ["seal"]}


@pytest.mark.parametrize(("role", "rep_id", "rep_name"), [
    ("applicant", None, "张**"),
    ("clerk", mask_resident_id(REP_ID), "张三丰"),
    ("auditor", mask_resident_id(REP_ID), "张三丰"),
    ("supervisor", REP_ID, "张三丰"),
])
def test_mask_form(registry: SchemaRegistry, role: str, rep_id: str | None,
                   rep_name: str) -> None:
    masked = mask_form(FORM, role, registry)
    assert masked["legal_representative_id"] == rep_id
    assert masked["legal_representative_name"] == rep_name
    assert masked["bundle"] == ["seal"] and masked["address"] == "一环路1号"


def test_unknown_role_is_refused(registry: SchemaRegistry) -> None:
    with pytest.raises(UnknownRole):
        mask_record(enterprise_record(), "admin", registry)


def test_scrub_text_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    message = f"field 'x': {REP_ID} rejected; credit code {CODE} kept"
    scrubbed = scrub_text(message)
    assert REP_ID not in scrubbed and CODE in scrubbed
    assert scrub_text(message, "supervisor") == message
    with caplog.at_level(logging.INFO):
        logging.getLogger("desk").info(scrubbed)
    assert REP_ID not in caplog.text
