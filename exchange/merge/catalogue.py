"""What the merge knows about each event type: record kind, fields, authority, expectations.

Adding a source (a new department or event) means adding rows to these tables and, for
events that feed collections or lifecycles, a rule in :mod:`.enterprise` or :mod:`.property`;
the fold in :mod:`.record` does not change.
"""

from __future__ import annotations

from typing import Final

from exchange.errors import ExchangeError

ENTERPRISE: Final = "enterprise"
PROPERTY: Final = "property"

#: The body field that repeats the record key, per record kind (checked against the envelope).
KEY_FIELD: Final[dict[str, str]] = {ENTERPRISE: "credit_code", PROPERTY: "unit_number"}

#: Body field -> record attribute, per event type. Every event type of the catalogue is here;
#: an empty mapping means the event feeds only facts, lifecycle or collections.
FIELD_MAP: Final[dict[str, dict[str, str]]] = {
    "market.established": {
        "name": "name",
        "entity_type": "entity_type",
        "legal_representative_name": "legal_representative_name",
        "legal_representative_id": "legal_representative_id",
        "registered_address": "registered_address",
        "region_code": "region_code",
        "registered_capital": "registered_capital",
        "business_scope": "business_scope",
        "licence_number": "licence_number",
        "established_on": "established_on",
    },
    "market.changed": {
        "name": "name",
        "registered_address": "registered_address",
        "legal_representative_name": "legal_representative_name",
        "legal_representative_id": "legal_representative_id",
        "registered_capital": "registered_capital",
        "business_scope": "business_scope",
        "changed_on": "last_changed_on",
    },
    "market.deregistered": {
        "deregistered_on": "deregistered_on",
        "simplified": "deregistration_simplified",
        "reason": "deregistration_reason",
    },
    "market.abnormal_listed": {
        "listed_on": "abnormal_listed_on",
        "reason": "abnormal_reason",
        "authority": "abnormal_authority",
    },
    "market.abnormal_removed": {
        "removed_on": "abnormal_removed_on",
        "reason": "abnormal_removal_reason",
    },
    "market.simplified_deregistration_notice": {
        "notice_from": "deregistration_notice_from",
        "notice_until": "deregistration_notice_until",
    },
    "tax.taxpayer_registered": {
        "taxpayer_name": "name",
        "tax_office_code": "tax_office_code",
        "tax_office_name": "tax_office_name",
        "taxpayer_type": "taxpayer_type",
        "registered_address": "registered_address",
        "legal_representative_name": "legal_representative_name",
        "registered_on": "tax_registered_on",
    },
    "tax.invoices_approved": {
        "invoice_kind": "invoice_kind",
        "monthly_quantity": "invoice_monthly_quantity",
        "max_amount_per_invoice": "invoice_max_amount",
        "tax_control_device_issued": "tax_control_device_issued",
        "approved_on": "invoices_approved_on",
    },
    "tax.clearance_issued": {
        "certificate_number": "tax_clearance_certificate",
        "issued_on": "tax_cleared_on",
    },
    "social.employer_registered": {
        "employer_name": "name",
        "social_account_number": "social_account_number",
        "registered_address": "registered_address",
        "registered_on": "social_registered_on",
    },
    "social.employees_enrolled": {
        "employee_count": "employee_count",
        "enrolled_on": "employees_enrolled_on",
    },
    "social.housing_fund_opened": {
        "fund_account_number": "housing_fund_account_number",
        "opened_on": "housing_fund_opened_on",
    },
    "social.employer_account_closed": {"closed_on": "social_account_closed_on"},
    "seal.seal_engraved": {
        "seal_kinds": "seal_kinds",
        "filing_number": "seal_filing_number",
        "engraved_on": "seal_engraved_on",
    },
    "bank.account_opened": {
        "bank_name": "bank_name",
        "account_number": "bank_account_number",
        "account_kind": "bank_account_kind",
        "opened_on": "bank_account_opened_on",
    },
    "realestate.unit_registered": {
        "registration_kind": "registration_kind",
        "certificate_number": "certificate_number",
        "owners": "owners",
        "area_sqm": "area_sqm",
        "use": "use",
        "address": "address",
        "registered_on": "registered_on",
    },
    "realestate.contract_filed": {
        "contract_number": "contract_number",
        "buyers": "contract_buyers",
        "sellers": "contract_sellers",
        "price": "contract_price",
        "filed_on": "contract_filed_on",
    },
    "realestate.mortgage_registered": {},
    "realestate.mortgage_released": {},
    "realestate.seizure_registered": {},
    "realestate.seizure_lifted": {},
    "realestate.objection_registered": {},
    "realestate.objection_cancelled": {},
    "realestate.certificate_issued": {
        "certificate_number": "issued_certificate_number",
        "electronic": "certificate_electronic",
        "issued_on": "certificate_issued_on",
    },
    "tax.property_tax_assessed": {},
    "tax.property_tax_paid": {},
}

_PROPERTY_TYPES: Final = frozenset(
    {"tax.property_tax_assessed", "tax.property_tax_paid"}
    | {t for t in FIELD_MAP if t.startswith("realestate.")}
)

#: Record kind of each event type.
EVENT_KINDS: Final[dict[str, str]] = {
    t: PROPERTY if t in _PROPERTY_TYPES else ENTERPRISE for t in FIELD_MAP
}

#: Facts each department is expected to provide for a complete record, per record kind.
#: Enterprise: the full start-up bundle of the one form (the desk narrows it to the bundle
#: chosen); property: everything a transfer needs before the certificate (先税后证).
EXPECTED_FACTS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    ENTERPRISE: {
        "market": ("market.established",),
        "tax": ("tax.taxpayer_registered", "tax.invoices_approved"),
        "social": ("social.employer_registered", "social.housing_fund_opened"),
        "seal": ("seal.seal_engraved",),
        "bank": ("bank.account_opened",),
    },
    PROPERTY: {
        "realestate": (
            "realestate.unit_registered",
            "realestate.contract_filed",
            "realestate.certificate_issued",
        ),
        "tax": ("tax.property_tax_assessed", "tax.property_tax_paid"),
    },
}

#: Attributes more than one department reports, with the departments in order of authority:
#: the first one present decides ``fields[attr]``; all of them feed ``conflicts``.
AUTHORITY: Final[dict[str, tuple[str, ...]]] = {
    "name": ("market", "tax", "social"),
    "registered_address": ("market", "tax", "social"),
    "legal_representative_name": ("market", "tax"),
}


_RANKS: Final[dict[tuple[str, str], int]] = {
    (attribute, department): len(ranking) - position
    for attribute, ranking in AUTHORITY.items()
    for position, department in enumerate(ranking)
}


def authority_rank(attribute: str, department: str) -> int:
    """Higher for a more authoritative department; 0 for attributes with a single source."""
    return _RANKS.get((attribute, department), 0)


class UnknownEventType(ExchangeError, ValueError):
    """An event type the merge has no rule for (not in the catalogue of docs/design.md)."""

    def __init__(self, event_type: str) -> None:
        self.event_type = event_type
        super().__init__(
            f"no merge rule for event type {event_type!r}: add it to exchange/merge/catalogue.py"
        )


class RecordMismatch(ExchangeError, ValueError):
    """An event was folded into a record it is not about (other key or other record kind)."""


def record_kind_for(event_type: str) -> str:
    """``"enterprise"`` or ``"property"``: the record an event type is merged into."""
    try:
        return EVENT_KINDS[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None
