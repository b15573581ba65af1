"""The one form (一表申报): parsed once, validated once, with errors naming field and rule.

``parse_form`` turns the JSON the window or the portal sends into one of three frozen forms.
Identifiers are checked by :mod:`exchange.identifiers`; errors never echo a resident ID.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from consumers.desk.domain.errors import InvalidForm
from consumers.desk.domain.items import CATALOGUE, item_spec
from exchange.errors import InvalidIdentifier
from exchange.identifiers import validate_credit_code, validate_resident_id, validate_unit_number

CASE_TYPES = ("startup", "transfer", "deregistration")
BUNDLE_ITEMS = (
    "seal",
    "tax_and_invoices",
    "tax_control_device",
    "social_security",
    "housing_fund",
    "bank_account",
)
MAX_TEXT = 200
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class ItemRequest:
    """A material declared missing on the form, possibly with a signed promise."""

    item: str
    promise: bool = False


@dataclass(frozen=True, slots=True)
class StartupForm:
    """Enterprise start-up: exactly one of ``credit_code`` and ``pending_name``."""

    credit_code: str | None
    pending_name: str | None
    legal_representative_name: str
    legal_representative_id: str
    address: str
    bundle: frozenset[str]
    missing_items: tuple[ItemRequest, ...] = ()
    case_type: str = "startup"


@dataclass(frozen=True, slots=True)
class TransferForm:
    """Property registration on a unit; ``registration_type`` decides steps and limit."""

    unit_number: str
    registration_type: str
    applicant_name: str
    contract_signed_on: date | None = None
    missing_items: tuple[ItemRequest, ...] = ()
    case_type: str = "transfer"


@dataclass(frozen=True, slots=True)
class DeregistrationForm:
    """Enterprise deregistration; ``simplified`` for 简易注销."""

    credit_code: str
    simplified: bool = False
    missing_items: tuple[ItemRequest, ...] = ()
    case_type: str = "deregistration"


Form = StartupForm | TransferForm | DeregistrationForm


def _text(data: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidForm(name, "is required")
        return None
    if not isinstance(value, str):
        raise InvalidForm(name, f"must be text, got {type(value).__name__}")
    if len(value.strip()) > MAX_TEXT:
        raise InvalidForm(name, f"must be at most {MAX_TEXT} characters")
    return value.strip()


def _identifier(name: str, value: str, validate: Any) -> str:
    try:
        return str(validate(value))
    except InvalidIdentifier as exc:  # the message is already masked for personal data
        raise InvalidForm(name, exc.rule) from None


def _date(data: Mapping[str, Any], name: str) -> date | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    rule = "must be a date in the form YYYY-MM-DD"
    if not isinstance(value, str) or _ISO_DATE.match(value) is None:
        raise InvalidForm(name, rule)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidForm(name, f"{rule} (no such day: {value})") from None


def _bool(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise InvalidForm(name, "must be true or false")
    return value


def _missing(data: Mapping[str, Any], case_type: str) -> tuple[ItemRequest, ...]:
    raw = data.get("missing_items") or []
    if not isinstance(raw, list):
        raise InvalidForm("missing_items", "must be a list")
    known = ", ".join(s.name for s in CATALOGUE[case_type])
    requests: list[ItemRequest] = []
    for i, entry in enumerate(raw):
        name, promise = (
            (entry, False)
            if isinstance(entry, str)
            else (
                (entry.get("item"), entry.get("promise", False))
                if isinstance(entry, Mapping)
                else (None, False)
            )
        )
        if not isinstance(name, str) or item_spec(case_type, name) is None:
            raise InvalidForm(
                f"missing_items[{i}].item", f"unknown item {name!r} for {case_type}; known: {known}"
            )
        if not isinstance(promise, bool):
            raise InvalidForm(f"missing_items[{i}].promise", "must be true or false")
        if any(r.item == name for r in requests):
            raise InvalidForm(f"missing_items[{i}].item", f"item {name!r} is listed twice")
        requests.append(ItemRequest(name, promise))
    return tuple(requests)


def _startup(data: Mapping[str, Any]) -> StartupForm:
    code = _text(data, "credit_code", required=False)
    pending = _text(data, "pending_name", required=False)
    if (code is None) == (pending is None):
        raise InvalidForm("credit_code", "give exactly one of credit_code and pending_name")
    bundle_raw = data.get("bundle")
    if not isinstance(bundle_raw, list) or not bundle_raw:
        raise InvalidForm("bundle", f"must be a non-empty list of: {', '.join(BUNDLE_ITEMS)}")
    for i, item in enumerate(bundle_raw):
        if item not in BUNDLE_ITEMS:
            raise InvalidForm(
                f"bundle[{i}]", f"unknown bundle item {item!r}; known: {', '.join(BUNDLE_ITEMS)}"
            )
    bundle = frozenset(bundle_raw)
    if "tax_control_device" in bundle and "tax_and_invoices" not in bundle:
        raise InvalidForm("bundle", "tax_control_device needs tax_and_invoices in the bundle")
    rep_id = _text(data, "legal_representative_id")
    assert rep_id is not None
    return StartupForm(
        credit_code=_identifier("credit_code", code, validate_credit_code) if code else None,
        pending_name=pending,
        legal_representative_name=str(_text(data, "legal_representative_name")),
        legal_representative_id=_identifier(
            "legal_representative_id", rep_id, validate_resident_id
        ),
        address=str(_text(data, "address")),
        bundle=bundle,
        missing_items=_missing(data, "startup"),
    )


def _transfer(data: Mapping[str, Any]) -> TransferForm:
    from consumers.desk.domain.transfer import REGISTRATION_TYPES

    unit = _identifier("unit_number", str(_text(data, "unit_number")), validate_unit_number)
    kind = _text(data, "registration_type")
    if kind not in REGISTRATION_TYPES:
        raise InvalidForm(
            "registration_type",
            f"unknown registration type {kind!r}; known: {', '.join(REGISTRATION_TYPES)}",
        )
    return TransferForm(
        unit_number=unit,
        registration_type=kind,
        applicant_name=str(_text(data, "applicant_name")),
        contract_signed_on=_date(data, "contract_signed_on"),
        missing_items=_missing(data, "transfer"),
    )


def _deregistration(data: Mapping[str, Any]) -> DeregistrationForm:
    code = _identifier("credit_code", str(_text(data, "credit_code")), validate_credit_code)
    return DeregistrationForm(code, _bool(data, "simplified"), _missing(data, "deregistration"))


def parse_form(data: Mapping[str, Any]) -> Form:
    """Validate the one form; raises :class:`InvalidForm` naming the field and the rule."""
    if not isinstance(data, Mapping):
        raise InvalidForm("form", "must be a JSON object")
    case_type = data.get("case_type")
    if case_type == "startup":
        return _startup(data)
    if case_type == "transfer":
        return _transfer(data)
    if case_type == "deregistration":
        return _deregistration(data)
    raise InvalidForm(
        "case_type", f"unknown case type {case_type!r}; known: {', '.join(CASE_TYPES)}"
    )
