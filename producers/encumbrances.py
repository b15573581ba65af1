"""Encumbrances of a simulated property unit: mortgages, court seizures, objections.

Each function moves the unit's clock forward and emits the real-estate events of one
encumbrance (registered, and maybe released, lifted or cancelled).
"""

from __future__ import annotations

from decimal import Decimal

from producers.property_lifecycle import PRICE_PER_SQM, Unit
from producers.reference_data import BANKS
from producers.sim_context import Emitter, local_day, yuan


def mortgage(em: Emitter, unit: Unit) -> str:
    """Register a mortgage held by a bank; return its id."""
    mortgage_id = f"DY{em.digits(12)}"
    unit.at = em.days_later(unit.at, 1, 200)
    value = unit.area * em.rng.randint(*PRICE_PER_SQM[unit.use])
    em.emit(
        "realestate.mortgage_registered",
        unit.at,
        unit.number,
        em.uuid(),
        unit_number=unit.number,
        mortgage_id=mortgage_id,
        mortgagee=f"{em.rng.choice(BANKS)}{unit.city.name[:-1]}分行",
        secured_amount=yuan(value * Decimal(em.rng.randint(40, 70)) / 100),
        registered_on=local_day(unit.at),
    )
    return mortgage_id


def release(em: Emitter, unit: Unit, mortgage_id: str) -> None:
    """Release a mortgage (repaid, or before a transfer)."""
    unit.at = em.days_later(unit.at, 1, 300)
    em.emit(
        "realestate.mortgage_released",
        unit.at,
        unit.number,
        em.uuid(),
        unit_number=unit.number,
        mortgage_id=mortgage_id,
        released_on=local_day(unit.at),
    )


def seizure(em: Emitter, unit: Unit, *, lifted: bool) -> None:
    """A court seizes the unit (查封), and maybe lifts the seizure."""
    seizure_id = f"CF{em.digits(12)}"
    unit.at = em.days_later(unit.at, 5, 300)
    day = local_day(unit.at)
    em.emit(
        "realestate.seizure_registered",
        unit.at,
        unit.number,
        em.uuid(),
        unit_number=unit.number,
        seizure_id=seizure_id,
        court=f"{unit.city.name}{unit.district_name}人民法院",
        case_number=f"（{day:%Y}）{unit.city.province_abbr}{unit.district_code[2:]}执"
        f"{em.rng.randint(1, 9999)}号",
        registered_on=day,
    )
    if lifted:
        unit.at = em.days_later(unit.at, 10, 400)
        em.emit(
            "realestate.seizure_lifted",
            unit.at,
            unit.number,
            em.uuid(),
            unit_number=unit.number,
            seizure_id=seizure_id,
            lifted_on=local_day(unit.at),
        )


def objection(em: Emitter, unit: Unit, *, cancelled: bool) -> None:
    """Someone registers an objection (异议登记), maybe cancelled later."""
    objection_id = f"YY{em.digits(12)}"
    unit.at = em.days_later(unit.at, 5, 300)
    em.emit(
        "realestate.objection_registered",
        unit.at,
        unit.number,
        em.uuid(),
        unit_number=unit.number,
        objection_id=objection_id,
        applicant_name=em.person_name(),
        registered_on=local_day(unit.at),
    )
    if cancelled:
        unit.at = em.days_later(unit.at, 3, 15)  # an objection lapses after 15 days
        em.emit(
            "realestate.objection_cancelled",
            unit.at,
            unit.number,
            em.uuid(),
            unit_number=unit.number,
            objection_id=objection_id,
            cancelled_on=local_day(unit.at),
        )
