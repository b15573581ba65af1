"""Property transfer (不动产转移登记): tax before certificate (先税后证).

For a transfer, real estate files the contract (the applicant on the form is the buyer),
tax assesses the taxes on it and then records their payment, and only then real estate
registers the transfer and issues the certificate. A mortgage registration is answered by
the mortgage, the simple types by a certificate. The unit's area, use and address are real
estate's own data (drawn here from the seed); the buyer's name is taken from the form.
"""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal
from typing import Any

from producers.property_lifecycle import PRICE_PER_SQM, USES
from producers.reference_data import BANKS
from producers.responders.application import Application
from producers.responders.plan import Reaction
from producers.sim_context import Emitter, local_day, money, yuan

TRANSFER_TYPES = ("enterprise_to_enterprise", "sale", "new_build_sale", "other_transfer")
# the desk's 1-hour types (consumers.desk.domain.transfer.SIMPLE_TYPES): answered by a
# certificate or registration proof
SIMPLE_TYPES = (
    "change_registration", "correction_registration", "certificate_replacement",
    "certificate_reissue", "right_cancellation", "mortgage_change", "mortgage_transfer",
    "maximum_mortgage_confirmation", "advance_notice_registration",
    "advance_notice_cancellation", "easement_registration",
)
_ENTERPRISE_ENDINGS = ("公司", "合作社", "企业", "中心", "厂")


def _owner(name: str, share: Decimal = Decimal("100.00")) -> dict[str, Any]:
    kind = "ENTERPRISE" if name.endswith(_ENTERPRISE_ENDINGS) else "PERSON"
    return {"name": name, "owner_type": kind, "credit_code": None, "id_number": None,
            "share_percent": share}


def plan(app: Application, seed: int) -> list[Reaction]:
    """The answers to a property case, by its registration type."""
    unit, trace, kind = str(app.unit_number), app.case_id, str(app.registration_type)
    rng = random.Random(f"{seed}:{app.case_id}:unit")
    use = rng.choice(USES)
    area = money(rng.randint(4_000, 30_000))
    price = yuan(area * rng.randint(*PRICE_PER_SQM[use]))
    contract = f"WQ{app.submitted_at:%Y}{rng.randrange(10**8):08d}"
    buyer = app.applicant_name or ""
    total = yuan(price * Decimal("0.03"))
    certificate = f"川（{app.submitted_at:%Y}）不动产权第{rng.randrange(10**7):07d}号"

    def filed(em: Emitter, at: datetime, conflict: bool) -> None:
        seller = _owner(em.person_name())
        em.emit("realestate.contract_filed", at, unit, trace, unit_number=unit,
                contract_number=contract, buyers=[_owner(buyer)], sellers=[seller],
                price=price, filed_on=app.contract_signed_on or local_day(at))

    def assessed(em: Emitter, at: datetime, conflict: bool) -> None:
        payer = em.person_name() if conflict else buyer  # a payer not among the buyers
        em.emit("tax.property_tax_assessed", at, unit, trace, unit_number=unit,
                contract_number=contract, deed_tax=total, value_added_tax=Decimal("0.00"),
                income_tax=Decimal("0.00"), total_due=total, payer_name=payer,
                payer_credit_code=None, payer_id_number=None, assessed_on=local_day(at))

    def paid(em: Emitter, at: datetime, conflict: bool) -> None:
        em.emit("tax.property_tax_paid", at, unit, trace, unit_number=unit,
                contract_number=contract, amount_paid=total,
                payment_reference=f"{unit[:6]}{em.digits(14)}", paid_on=local_day(at))

    def registered(em: Emitter, at: datetime, conflict: bool) -> None:
        em.emit("realestate.unit_registered", at, unit, trace, unit_number=unit,
                registration_kind="TRANSFER", certificate_number=certificate,
                owners=[_owner(buyer)], area_sqm=area, use=use,
                address=f"不动产单元{unit}", registered_on=local_day(at))
        certify(em, at, conflict)

    def certify(em: Emitter, at: datetime, conflict: bool) -> None:
        em.emit("realestate.certificate_issued", at, unit, trace, unit_number=unit,
                certificate_number=certificate, electronic=True, issued_on=local_day(at))

    def mortgage(em: Emitter, at: datetime, conflict: bool) -> None:
        em.emit("realestate.mortgage_registered", at, unit, trace, unit_number=unit,
                mortgage_id=f"DY{local_day(at):%Y}{em.digits(8)}",
                mortgagee=em.rng.choice(BANKS), secured_amount=yuan(price * Decimal("0.6")),
                registered_on=local_day(at))

    if kind in TRANSFER_TYPES:
        return [
            Reaction("contract_filed", "realestate", filed),
            Reaction("tax_assessed", "tax", assessed, ("contract_filed",), can_conflict=True),
            Reaction("tax_paid", "tax", paid, ("tax_assessed",)),
            Reaction("registration", "realestate", registered, ("tax_paid",)),
        ]
    if kind == "mortgage_registration":
        return [Reaction("mortgage", "realestate", mortgage)]
    if kind in SIMPLE_TYPES:
        return [Reaction("certificate", "realestate", certify)]
    return []  # seizures, objections, releases: court and registry files, not the form's
