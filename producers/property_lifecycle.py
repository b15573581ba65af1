"""The life of a simulated property unit, told as real-estate and tax events in domain order.

First registration (owned by a simulated enterprise, by its credit code, or by one or two
persons) and its certificate; a mortgage, maybe released; a transfer to a new owner
enterprise in the legal order (mortgage released, contract filed, taxes assessed and paid,
then the transfer registration and the new certificate: 先税后证); late seizures and
objections, some lifted or cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from exchange.identifiers import make_unit_number
from producers.enterprise_lifecycle import Enterprise
from producers.reference_data import City
from producers.sim_context import Emitter, Person, local_day, money, yuan

USES = (
    ("RESIDENTIAL",) * 11
    + ("COMMERCIAL",) * 4
    + ("OFFICE",) * 3
    + ("INDUSTRIAL", "WAREHOUSE", "OTHER")
)
PRICE_PER_SQM = {
    "RESIDENTIAL": (7_000, 25_000),
    "COMMERCIAL": (10_000, 30_000),
    "OFFICE": (8_000, 20_000),
    "INDUSTRIAL": (2_000, 5_000),
    "WAREHOUSE": (1_500, 4_000),
    "OTHER": (3_000, 8_000),
}
Owner = dict[str, Any]


@dataclass
class Unit:
    """The state the next events of a unit depend on."""

    number: str
    city: City
    district_code: str
    district_name: str
    use: str
    area: Decimal
    address: str
    owners: list[Owner]
    at: datetime


def enterprise_owner(ent: Enterprise) -> Owner:
    """An ``Owner`` record for an enterprise holding the whole unit."""
    return {
        "name": ent.name,
        "owner_type": "ENTERPRISE",
        "credit_code": ent.credit_code,
        "id_number": None,
        "share_percent": money(10_000),
    }


def person_owners(people: list[Person]) -> list[Owner]:
    """``Owner`` records for persons holding equal shares (two decimals, summing to 100)."""
    shares = [10_000 // len(people)] * len(people)
    shares[0] += 10_000 - sum(shares)
    return [
        {
            "name": p.name,
            "owner_type": "PERSON",
            "credit_code": None,
            "id_number": p.id_number,
            "share_percent": money(s),
        }
        for p, s in zip(people, shares, strict=True)
    ]


def _certificate(em: Emitter, unit: Unit, at: datetime) -> str:
    return (
        f"{unit.city.province_abbr}（{local_day(at):%Y}）{unit.city.name[:-1]}"
        f"不动产权第{em.digits(7)}号"
    )


def register_first(
    em: Emitter, enterprises: list[Enterprise], start: datetime, horizon_days: int
) -> Unit:
    """Emit the first registration and its certificate; return the unit."""
    rng = em.rng
    owner_ent = rng.choice(enterprises) if enterprises and rng.random() < 0.45 else None
    if owner_ent is not None:
        city, at = owner_ent.city, em.days_later(owner_ent.established_at, 5, 300)
        district_code, district = owner_ent.district_code, owner_ent.district_name
        owners = [enterprise_owner(owner_ent)]
    else:
        city = em.city()
        district_code, district = rng.choice(city.districts)
        at = em.working_instant(local_day(start) + timedelta(rng.randrange(horizon_days)))
        owners = person_owners([em.person(at) for _ in range(rng.choice((1, 1, 2)))])
    use = rng.choice(USES)
    number = make_unit_number(rng, district_code)
    building, room = int(number[20:24]), int(number[24:28])
    area = money(rng.randint(4_000, 30_000 if use == "RESIDENTIAL" else 300_000))
    address = (
        f"{city.province}{city.name}{district}{rng.choice(city.streets)}"
        f"{rng.randint(1, 399)}号{building}栋{room}号"
    )
    unit = Unit(number, city, district_code, district, use, area, address, owners, at)
    _register(em, unit, "FIRST", em.uuid())
    return unit


def _register(em: Emitter, unit: Unit, kind: str, trace: str) -> None:
    certificate = _certificate(em, unit, unit.at)
    em.emit(
        "realestate.unit_registered",
        unit.at,
        unit.number,
        trace,
        unit_number=unit.number,
        registration_kind=kind,
        certificate_number=certificate,
        owners=unit.owners,
        area_sqm=unit.area,
        use=unit.use,
        address=unit.address,
        registered_on=local_day(unit.at),
    )
    unit.at = em.later(unit.at, 20, 2 * 24 * 60)
    em.emit(
        "realestate.certificate_issued",
        unit.at,
        unit.number,
        trace,
        unit_number=unit.number,
        certificate_number=certificate,
        electronic=em.rng.random() < 0.7,
        issued_on=local_day(unit.at),
    )


def transfer(em: Emitter, unit: Unit, buyer: Enterprise) -> None:
    """Sell the unit to ``buyer``: contract, taxes assessed and paid, registration, certificate."""
    rng, trace = em.rng, em.uuid()
    unit.at = max(em.days_later(unit.at, 10, 300), em.days_later(buyer.established_at, 1, 30))
    price = yuan(unit.area * rng.randint(*PRICE_PER_SQM[unit.use]))
    contract = f"WQ{local_day(unit.at):%Y}{em.digits(8)}"
    buyers = [enterprise_owner(buyer)]
    em.emit(
        "realestate.contract_filed",
        unit.at,
        unit.number,
        trace,
        unit_number=unit.number,
        contract_number=contract,
        buyers=buyers,
        sellers=unit.owners,
        price=price,
        filed_on=local_day(unit.at),
    )
    seller_is_person = unit.owners[0]["owner_type"] == "PERSON"
    deed = yuan(price * Decimal("0.03"))
    vat = Decimal("0.00") if seller_is_person else yuan(price / Decimal("1.05") * Decimal("0.05"))
    income = yuan(price * Decimal("0.01")) if seller_is_person else Decimal("0.00")
    total = deed + vat + income
    unit.at = em.later(unit.at, 60, 3 * 24 * 60)
    em.emit(
        "tax.property_tax_assessed",
        unit.at,
        unit.number,
        trace,
        unit_number=unit.number,
        contract_number=contract,
        deed_tax=deed,
        value_added_tax=vat,
        income_tax=income,
        total_due=total,
        payer_name=buyer.name,
        payer_credit_code=buyer.credit_code,
        payer_id_number=None,
        assessed_on=local_day(unit.at),
    )
    unit.at = em.later(unit.at, 10, 2 * 24 * 60)
    em.emit(
        "tax.property_tax_paid",
        unit.at,
        unit.number,
        trace,
        unit_number=unit.number,
        contract_number=contract,
        amount_paid=total,
        payment_reference=f"{unit.district_code}{em.digits(14)}",
        paid_on=local_day(unit.at),
    )
    unit.owners = buyers
    unit.at = em.later(unit.at, 30, 5 * 24 * 60)
    _register(em, unit, "TRANSFER", trace)
