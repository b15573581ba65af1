"""The desk's application event as the departments read it: the one form, typed.

The one place where a decoded ``desk.application_submitted`` record becomes a domain object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

APPLICATION_EVENT = "desk.application_submitted"


@dataclass(frozen=True, slots=True)
class Application:
    """One accepted case: its id, type and the fields of the one form (nulls where absent)."""

    event_id: str
    case_id: str
    case_type: str  # startup / transfer / deregistration
    profile: str
    submitted_at: datetime
    credit_code: str | None = None
    pending_name: str | None = None
    legal_representative_name: str | None = None
    legal_representative_id: str | None = None  # personal: never logged, never a key
    address: str | None = None
    bundle: frozenset[str] = frozenset()
    unit_number: str | None = None
    registration_type: str | None = None
    applicant_name: str | None = None
    contract_signed_on: date | None = None
    simplified: bool = False


def from_avro(record: Mapping[str, Any]) -> Application:
    """Translate a decoded application record (fastavro's in-memory form)."""
    submitted = record["submitted_at"]
    if submitted.tzinfo is None:
        submitted = submitted.replace(tzinfo=UTC)
    return Application(
        event_id=str(record["envelope"]["event_id"]),
        case_id=str(record["case_id"]),
        case_type=str(record["case_type"]).lower(),
        profile=str(record["profile"]),
        submitted_at=submitted,
        credit_code=record.get("credit_code"),
        pending_name=record.get("pending_name"),
        legal_representative_name=record.get("legal_representative_name"),
        legal_representative_id=record.get("legal_representative_id"),
        address=record.get("address"),
        bundle=frozenset(str(item).lower() for item in record.get("bundle") or ()),
        unit_number=record.get("unit_number"),
        registration_type=record.get("registration_type"),
        applicant_name=record.get("applicant_name"),
        contract_signed_on=record.get("contract_signed_on"),
        simplified=bool(record.get("simplified")),
    )
