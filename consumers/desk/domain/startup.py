"""Enterprise start-up (企业开办): licence first, then the bundle in parallel.

Steps and the facts that complete them (unified enterprise record, ``facts`` keys):

=====================  ==========  ==============================================
step                   department  facts
=====================  ==========  ==============================================
licence                market      market.established
seal                   seal        seal.seal_engraved
tax_and_invoices       tax         tax.taxpayer_registered + tax.invoices_approved
tax_control_device     tax         tax.invoices_approved with field
                                   tax_control_device_issued = true
social_security        social      social.employer_registered
housing_fund           social      social.housing_fund_opened
bank_account           bank        bank.account_opened
=====================  ==========  ==============================================

Every bundle step waits for the licence (no credit code, no seal or tax registration) and
its clock starts when the licence is done. Locality profiles (domain notes):

============  ======  =======  ====  ===================  ======  ===========================
profile       case    licence  seal  tax (+device)        social  housing fund, bank
============  ======  =======  ====  ===================  ======  ===========================
default       0.5wd   0.5wd    0.5wd 0.5wd                0.5wd   0.5wd  (Hengyang target)
qingbaijiang  4h      2h       2h    50m                  immed.  2h  ("seconds" = immediate)
weinan        2wd     2wd      2wd   2wd                  2wd     2wd
mianyang      2wd     2wd      2wd   2wd                  2wd     2wd
sichuan       3wd     3wd      3wd   3wd                  3wd     3wd  (province)
============  ======  =======  ====  ===================  ======  ===========================

Where the documents give no per-step figure, the step's limit is the case limit (housing
fund and bank in Qingbaijiang: 2 h, so that they fit after a 2 h licence). Deemed approval
is configured for the seal step (public-security filing: the police answer within the limit
or are taken to agree, as in the domain notes); change it with ``deemed_approval=``.
"""

from __future__ import annotations

from consumers.desk.domain.errors import UnknownProfile
from consumers.desk.domain.forms import StartupForm
from consumers.desk.domain.limits import TimeLimit
from consumers.desk.domain.steps import CasePlan, StepSpec, all_facts, fact_with_field

L = TimeLimit.parse

# profile -> (case limit, {step: limit}); steps not named take the case limit.
PROFILES: dict[str, tuple[TimeLimit, dict[str, TimeLimit]]] = {
    "default": (L("0.5wd"), {}),
    "qingbaijiang": (
        L("4h"),
        {
            "licence": L("2h"),
            "seal": L("2h"),
            "tax_and_invoices": L("50m"),
            "tax_control_device": L("50m"),
            "social_security": L("immediate"),
            "housing_fund": L("2h"),
            "bank_account": L("2h"),
        },
    ),
    "weinan": (L("2wd"), {}),
    "mianyang": (L("2wd"), {}),
    "sichuan": (L("3wd"), {}),
}

DEFAULT_DEEMED_APPROVAL = frozenset({"seal"})

_STEPS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "licence": ("market", "营业执照", ("market.established",)),
    "seal": ("seal", "印章刻制", ("seal.seal_engraved",)),
    "tax_and_invoices": (
        "tax",
        "涉税事项确认及发票申领",
        ("tax.taxpayer_registered", "tax.invoices_approved"),
    ),
    "tax_control_device": ("tax", "税控设备", ("tax.invoices_approved",)),
    "social_security": ("social", "单位参保登记", ("social.employer_registered",)),
    "housing_fund": ("social", "公积金缴存登记", ("social.housing_fund_opened",)),
    "bank_account": ("bank", "银行开户", ("bank.account_opened",)),
}


def plan(
    form: StartupForm,
    profile: str = "default",
    deemed_approval: frozenset[str] = DEFAULT_DEEMED_APPROVAL,
) -> CasePlan:
    """The steps and limits of a start-up case for ``form`` in the locality ``profile``."""
    if profile not in PROFILES:
        raise UnknownProfile("startup", profile, sorted(PROFILES))
    case_limit, step_limits = PROFILES[profile]
    names = ["licence"] + [n for n in _STEPS if n in form.bundle]
    steps = []
    for name in names:
        department, title, facts = _STEPS[name]
        check = (
            fact_with_field("tax.invoices_approved", "tax_control_device_issued", True)
            if name == "tax_control_device"
            else all_facts(*facts)
        )
        steps.append(
            StepSpec(
                name=name,
                department=department,
                title=title,
                facts=facts,
                check=check,
                limit=step_limits.get(name, case_limit),
                after=() if name == "licence" else ("licence",),
                deemed_approval=name in deemed_approval,
            )
        )
    return CasePlan("startup", profile, case_limit, tuple(steps))
