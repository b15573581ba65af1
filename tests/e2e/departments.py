"""Departments answering a start-up case, as unified records folded by the real merge core.

Until the simulated departments run over Kafka here, the e2e test feeds these records
through :meth:`DeskService.apply_record`, the desk consumer's own path (record, cases and
offset in one transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from exchange.events import DepartmentEvent
from exchange.merge import merge

REP_ID = "510104199005171231"
NAME = "成都示例科技有限公司"


def _event(event_type: str, code: str, minute: int, body: dict[str, Any]) -> DepartmentEvent:
    return DepartmentEvent(
        event_type=event_type,
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{code}/{event_type}")),
        department=event_type.split(".")[0],
        occurred_at=datetime.now(UTC) - timedelta(minutes=10 - minute),
        key=code,
        body={"credit_code": code, **body},
    )


def startup_events(code: str, name: str = NAME) -> list[DepartmentEvent]:
    """Licence, seal, tax registration and first invoices of a new enterprise, in order."""
    today = date.today()
    return [
        _event("market.established", code, 1, {
            "name": name, "entity_type": "LIMITED_LIABILITY_COMPANY",
            "legal_representative_name": "张三", "legal_representative_id": REP_ID,
            "registered_address": "成都市武侯区一环路1号", "region_code": "510104",
            "registered_capital": Decimal("100000.00"), "business_scope": "软件开发",
            "licence_number": "510104000000001", "established_on": today}),
        _event("seal.seal_engraved", code, 2, {
            "seal_kinds": ["OFFICIAL", "FINANCE"], "filing_number": "YZ-0001",
            "engraved_on": today}),
        _event("tax.taxpayer_registered", code, 3, {
            "taxpayer_name": name, "tax_office_code": "15101040000",
            "tax_office_name": "国家税务总局成都市武侯区税务局", "taxpayer_type": "SMALL_SCALE",
            "registered_address": "成都市武侯区一环路1号", "legal_representative_name": "张三",
            "registered_on": today}),
        _event("tax.invoices_approved", code, 4, {
            "invoice_kind": "FULLY_DIGITAL", "monthly_quantity": 25,
            "max_amount_per_invoice": Decimal("10000.00"), "tax_control_device_issued": False,
            "approved_on": today}),
    ]


def growing_records(code: str, name: str = NAME) -> Iterator[dict[str, Any]]:
    """The unified record after each department's answer (what the exchange publishes)."""
    record: dict[str, Any] | None = None
    for event in startup_events(code, name):
        record = merge(record, event)
        yield record
