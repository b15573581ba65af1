"""Enterprise deregistration (企业注销): tax and social security close before the market does.

===================  ==========  ===============================  ======================
step                 department  fact                             waits for
===================  ==========  ===============================  ======================
tax_clearance        tax         tax.clearance_issued             -
social_closure       social      social.employer_account_closed   -
market_deregistered  market      market.deregistered, after       tax_clearance,
                                 acceptance                       social_closure
===================  ==========  ===============================  ======================

A deregistered fact seen before both closures holds the step (``step_held``); one whose own
time precedes a closure is flagged (``order_violation``). The documents set no figure (the
process is fully online): we choose 1 working day per step and 3 for the whole case; the
simplified procedure's 20-day public notice is not modelled here.
"""

from __future__ import annotations

from consumers.desk.domain.forms import DeregistrationForm
from consumers.desk.domain.limits import TimeLimit
from consumers.desk.domain.steps import CasePlan, StepSpec, all_facts

CASE_LIMIT = TimeLimit.working_days(3)
STEP_LIMIT = TimeLimit.working_days(1)


def plan(form: DeregistrationForm) -> CasePlan:
    """The steps and limits of a deregistration case."""
    profile = "simplified" if form.simplified else "ordinary"
    steps = (
        StepSpec(
            "tax_clearance",
            "tax",
            "清税证明",
            ("tax.clearance_issued",),
            all_facts("tax.clearance_issued"),
            STEP_LIMIT,
        ),
        StepSpec(
            "social_closure",
            "social",
            "社保账户注销",
            ("social.employer_account_closed",),
            all_facts("social.employer_account_closed"),
            STEP_LIMIT,
        ),
        StepSpec(
            "market_deregistered",
            "market",
            "注销登记",
            ("market.deregistered",),
            all_facts("market.deregistered"),
            STEP_LIMIT,
            after=("tax_clearance", "social_closure"),
            fresh=True,
        ),
    )
    return CasePlan("deregistration", profile, CASE_LIMIT, steps)
