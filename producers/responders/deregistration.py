"""Enterprise deregistration (企业注销): tax clearance and social-security closure in
parallel, then market supervision deregisters (it waits for both, as the law orders)."""

from __future__ import annotations

from datetime import datetime

from producers.responders.application import Application
from producers.responders.plan import Reaction
from producers.sim_context import Emitter, local_day


def plan(app: Application, seed: int) -> list[Reaction]:
    """Clearance, account closed, deregistered."""
    code, trace = str(app.credit_code), app.case_id

    def clearance(em: Emitter, at: datetime, conflict: bool) -> None:
        em.emit("tax.clearance_issued", at, code, trace, credit_code=code,
                certificate_number=f"QS{local_day(at):%Y%m%d}{em.digits(8)}",
                issued_on=local_day(at))

    def closure(em: Emitter, at: datetime, conflict: bool) -> None:
        em.emit("social.employer_account_closed", at, code, trace, credit_code=code,
                closed_on=local_day(at))

    def deregistered(em: Emitter, at: datetime, conflict: bool) -> None:
        em.emit("market.deregistered", at, code, trace, credit_code=code,
                deregistered_on=local_day(at), simplified=app.simplified,
                reason="简易注销" if app.simplified else "决议解散")

    return [
        Reaction("tax_clearance", "tax", clearance),
        Reaction("social_closure", "social", closure),
        Reaction("deregistered", "market", deregistered, ("tax_clearance", "social_closure")),
    ]
