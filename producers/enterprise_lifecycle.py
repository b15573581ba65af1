"""The life of a simulated enterprise, told as department events in the domain's order.

Start-up (licence, then the bundle chosen on the one form: seal, tax registration and invoices,
social insurance, housing fund, bank account, each present or not), sometimes a change of
particulars, the abnormal-operations list, and deregistration in the legal order (tax
clearance, social account closed, then market deregistration; simplified ones after a 20-day
public notice). Some departments hold a value that differs from market supervision's, so the
joined record has conflicts to report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from exchange.identifiers import make_credit_code
from producers.reference_data import (
    BANKS,
    BRAND_SYLLABLES,
    COMPANY_FORMS,
    INDUSTRIES,
    City,
    tax_office,
)
from producers.sim_context import Emitter, Person, local_day, money

INVOICE_KINDS = ("VAT_GENERAL", "VAT_ELECTRONIC_GENERAL", "FULLY_DIGITAL", "VAT_SPECIAL")
CAPITALS_YUAN = (100_000, 300_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000)


@dataclass
class Enterprise:
    """What later events (properties, transfers) need to know about a simulated enterprise."""

    credit_code: str
    name: str
    city: City
    district_code: str
    district_name: str
    address: str
    legal_representative: Person
    established_at: datetime
    last_at: datetime
    deregistered_at: datetime | None = None
    tax_registered: bool = False
    social_registered: bool = False


def address_in(em: Emitter, city: City, district: str) -> str:
    """A street address in ``district`` of ``city`` (province, city, district, street, number)."""
    return (
        f"{city.province}{city.name}{district}{em.rng.choice(city.streets)}"
        f"{em.rng.randint(1, 399)}号{em.rng.randint(1, 12)}栋{em.rng.randint(1, 30)}楼"
        f"{em.rng.randint(1, 12):02d}号"
    )


def _name(em: Emitter, city: City, district: str, entity_type: str, industry: str) -> str:
    brand = "".join(em.rng.sample(BRAND_SYLLABLES, 2))
    if entity_type == "INDIVIDUAL_BUSINESS":
        return f"{city.name}{district}{brand}便利店"
    if entity_type == "FARMERS_COOPERATIVE":
        return f"{city.name}{district}{brand}蔬菜种植专业合作社"
    form = (
        "股份有限公司" if entity_type == "JOINT_STOCK_COMPANY" else em.rng.choice(COMPANY_FORMS[:4])
    )
    return f"{city.name[:-1]}{brand}{industry}{form}"


def _variant_name(name: str) -> str:
    """How another department's clerk may have typed the name."""
    if name.endswith("有限责任公司"):
        return name[: -len("有限责任公司")] + "有限公司"
    if name.endswith("有限公司"):
        return name[: -len("有限公司")] + "有限责任公司"
    return name + "（普通合伙）"


def _variant_address(em: Emitter, address: str) -> str:
    """The same address with a different house number (a typo or an out-of-date record)."""
    head, _, tail = address.partition("号")
    digits = len(head) - len(head.rstrip("0123456789"))
    return f"{head[: len(head) - digits]}{em.rng.randint(400, 999)}号{tail}"


def establish(em: Emitter, at: datetime) -> Enterprise:
    """Emit ``market.established`` and the start-up bundle; return the enterprise."""
    rng = em.rng
    city = em.city()
    district_code, district = rng.choice(city.districts)
    roll = rng.random()
    entity_type, ctype = (
        ("INDIVIDUAL_BUSINESS", "2")
        if roll < 0.06
        else ("FARMERS_COOPERATIVE", "3")
        if roll < 0.09
        else ("JOINT_STOCK_COMPANY", "1")
        if roll < 0.14
        else ("LIMITED_LIABILITY_COMPANY", "1")
    )
    industry, scope = rng.choice(INDUSTRIES)
    ent = Enterprise(
        credit_code=make_credit_code(rng, district_code, entity_type=ctype),
        name=_name(em, city, district, entity_type, industry),
        city=city,
        district_code=district_code,
        district_name=district,
        address=address_in(em, city, district),
        legal_representative=em.person(at, rng.choice(city.districts)[0]),
        established_at=at,
        last_at=at,
    )
    code, trace = ent.credit_code, em.uuid()
    day = local_day(at)
    em.emit(
        "market.established",
        at,
        code,
        trace,
        credit_code=code,
        name=ent.name,
        entity_type=entity_type,
        legal_representative_name=ent.legal_representative.name,
        legal_representative_id=ent.legal_representative.id_number,
        registered_address=ent.address,
        region_code=district_code,
        registered_capital=money(rng.choice(CAPITALS_YUAN) * 100),
        business_scope=scope,
        licence_number=f"{district_code}{day:%Y%m%d}{em.digits(6)}",
        established_on=day,
    )
    times = [at]

    def put(event_type: str, t: datetime, **fields: object) -> None:
        em.emit(event_type, t, code, trace, **fields)
        times.append(t)

    if rng.random() < 0.9:
        kinds = ["OFFICIAL", "FINANCE", "LEGAL_REPRESENTATIVE"]
        kinds += ["INVOICE"] if rng.random() < 0.7 else []
        kinds += ["CONTRACT"] if rng.random() < 0.4 else []
        t = em.later(at, 10, 120)
        put(
            "seal.seal_engraved",
            t,
            credit_code=code,
            seal_kinds=kinds,
            filing_number=f"{district_code}{local_day(t):%Y}{em.digits(8)}",
            engraved_on=local_day(t),
        )
    if rng.random() < 0.92:
        office_code, office_name = tax_office(district_code, district, city)
        t = em.later(at, 5, 50)
        put(
            "tax.taxpayer_registered",
            t,
            credit_code=code,
            taxpayer_name=_variant_name(ent.name) if rng.random() < 0.06 else ent.name,
            tax_office_code=office_code,
            tax_office_name=office_name,
            taxpayer_type="SMALL_SCALE" if rng.random() < 0.8 else "GENERAL",
            registered_address=(
                _variant_address(em, ent.address) if rng.random() < 0.04 else ent.address
            ),
            legal_representative_name=(
                em.person_name() if rng.random() < 0.03 else ent.legal_representative.name
            ),
            registered_on=local_day(t),
        )
        ent.tax_registered = True
        if rng.random() < 0.85:
            kind = rng.choice(INVOICE_KINDS)
            t = em.later(t, 5, 45)
            put(
                "tax.invoices_approved",
                t,
                credit_code=code,
                invoice_kind=kind,
                monthly_quantity=rng.choice((25, 50, 100, 200)),
                max_amount_per_invoice=money(rng.choice((10_000, 100_000)) * 100),
                tax_control_device_issued=kind != "FULLY_DIGITAL" and rng.random() < 0.5,
                approved_on=local_day(t),
            )
    if rng.random() < 0.85:
        t = em.later(at, 1, 30)
        put(
            "social.employer_registered",
            t,
            credit_code=code,
            employer_name=ent.name,
            social_account_number=f"{district_code}{em.digits(8)}",
            registered_address=(
                _variant_address(em, ent.address) if rng.random() < 0.06 else ent.address
            ),
            registered_on=local_day(t),
        )
        ent.social_registered = True
        if rng.random() < 0.85:
            t = em.later(t, 1, 20)
            put(
                "social.employees_enrolled",
                t,
                credit_code=code,
                employee_count=rng.randint(1, 120),
                enrolled_on=local_day(t),
            )
    if rng.random() < 0.6:
        t = em.later(at, 10, 240)
        put(
            "social.housing_fund_opened",
            t,
            credit_code=code,
            fund_account_number=em.digits(12),
            opened_on=local_day(t),
        )
    if rng.random() < 0.85:
        t = em.later(at, 30, 480)
        put(
            "bank.account_opened",
            t,
            credit_code=code,
            bank_name=f"{rng.choice(BANKS)}{city.name[:-1]}{district[:-1]}支行",
            account_number=em.digits(19),
            account_kind="BASIC",
            opened_on=local_day(t),
        )
    ent.last_at = max(times)
    return ent
