"""Enterprise start-up (企业开办): each department takes from the one form what it needs.

Market supervision licenses a pending-name start-up under a newly generated credit code and
the name on the form (the desk then finds the case by that name and links it to the code);
then, per the bundle, seal engraving, tax registration and first invoices (with a tax-control
device if chosen), employer social-security registration, the housing-fund account and the
basic bank account, each after the licence. A start-up that already has a credit code is
licensed already: no new licence, the bundle starts at once.
"""

from __future__ import annotations

import random
from datetime import datetime

from exchange.identifiers import make_credit_code
from producers.enterprise_lifecycle import CAPITALS_YUAN, address_in
from producers.reference_data import BANKS, CITIES, INDUSTRIES, City, tax_office
from producers.responders.application import Application
from producers.responders.plan import Reaction
from producers.sim_context import Emitter, local_day, money


def _place(address: str, rng: random.Random) -> tuple[City, str, str]:
    """City, district code and name of the address (a seeded guess if no district matches)."""
    for city in CITIES:
        for code, name in city.districts:
            if name in address and (city.name in address or city.name[:-1] in address):
                return city, code, name
    for city in CITIES:
        for code, name in city.districts:
            if name in address:
                return city, code, name
    city = rng.choice(CITIES)
    code, name = rng.choice(city.districts)
    return city, code, name


def _variant_name(name: str) -> str:
    """How another department's clerk may have typed the name (有限公司 / 有限责任公司)."""
    if name.endswith("有限责任公司"):
        return name[: -len("有限责任公司")] + "有限公司"
    if name.endswith("有限公司"):
        return name[: -len("有限公司")] + "有限责任公司"
    return name + "（分店）"


def plan(app: Application, seed: int) -> list[Reaction]:
    """The start-up answers of every department the form's bundle involves."""
    rng = random.Random(f"{seed}:{app.case_id}:licence")
    address = app.address or ""
    city, region, district = _place(address, rng)
    code = app.credit_code or make_credit_code(rng, region)
    name = app.pending_name or f"企业（{code}）"  # a licensed firm's name is market's to tell
    trace = app.case_id
    after = ("licence",) if app.credit_code is None else ()

    def licence(em: Emitter, at: datetime, conflict: bool) -> None:
        industry, scope = em.rng.choice(INDUSTRIES)
        em.emit("market.established", at, code, trace, credit_code=code, name=name,
                entity_type="LIMITED_LIABILITY_COMPANY",
                legal_representative_name=app.legal_representative_name or "",
                legal_representative_id=app.legal_representative_id or "",
                registered_address=address, region_code=region,
                registered_capital=money(em.rng.choice(CAPITALS_YUAN) * 100),
                business_scope=scope, licence_number=f"{region}{local_day(at):%Y%m%d}"
                f"{em.digits(6)}", established_on=local_day(at))

    def seal(em: Emitter, at: datetime, conflict: bool) -> None:
        kinds = ["OFFICIAL", "FINANCE", "LEGAL_REPRESENTATIVE"]
        kinds += ["INVOICE"] if "tax_and_invoices" in app.bundle else []
        em.emit("seal.seal_engraved", at, code, trace, credit_code=code, seal_kinds=kinds,
                filing_number=f"{region}{local_day(at):%Y}{em.digits(8)}",
                engraved_on=local_day(at))

    def tax_registration(em: Emitter, at: datetime, conflict: bool) -> None:
        office_code, office_name = tax_office(region, district, city)
        em.emit("tax.taxpayer_registered", at, code, trace, credit_code=code,
                taxpayer_name=_variant_name(name) if conflict else name,
                tax_office_code=office_code, tax_office_name=office_name,
                taxpayer_type="SMALL_SCALE", registered_address=address,
                legal_representative_name=app.legal_representative_name or "",
                registered_on=local_day(at))

    def invoices(em: Emitter, at: datetime, conflict: bool) -> None:
        device = "tax_control_device" in app.bundle
        em.emit("tax.invoices_approved", at, code, trace, credit_code=code,
                invoice_kind="VAT_ELECTRONIC_GENERAL" if device else "FULLY_DIGITAL",
                monthly_quantity=em.rng.choice((25, 50, 100)),
                max_amount_per_invoice=money(em.rng.choice((10_000, 100_000)) * 100),
                tax_control_device_issued=device, approved_on=local_day(at))

    def social(em: Emitter, at: datetime, conflict: bool) -> None:
        em.emit("social.employer_registered", at, code, trace, credit_code=code,
                employer_name=name, social_account_number=f"{region}{em.digits(8)}",
                registered_address=address_in(em, city, district) if conflict else address,
                registered_on=local_day(at))

    def housing_fund(em: Emitter, at: datetime, conflict: bool) -> None:
        em.emit("social.housing_fund_opened", at, code, trace, credit_code=code,
                fund_account_number=em.digits(12), opened_on=local_day(at))

    def bank(em: Emitter, at: datetime, conflict: bool) -> None:
        em.emit("bank.account_opened", at, code, trace, credit_code=code,
                bank_name=f"{em.rng.choice(BANKS)}{city.name[:-1]}{district[:-1]}支行",
                account_number=em.digits(19), account_kind="BASIC", opened_on=local_day(at))

    reactions = [] if app.credit_code else [Reaction("licence", "market", licence)]
    if "seal" in app.bundle:
        reactions.append(Reaction("seal", "seal", seal, after))
    if "tax_and_invoices" in app.bundle:
        reactions.append(Reaction("tax_registration", "tax", tax_registration, after,
                                  can_conflict=True))
        reactions.append(Reaction("invoices", "tax", invoices, ("tax_registration",)))
    if "social_security" in app.bundle:
        reactions.append(Reaction("social_security", "social", social, after, can_conflict=True))
    if "housing_fund" in app.bundle:
        reactions.append(Reaction("housing_fund", "social", housing_fund, after))
    if "bank_account" in app.bundle:
        reactions.append(Reaction("bank_account", "bank", bank, after))
    return reactions
