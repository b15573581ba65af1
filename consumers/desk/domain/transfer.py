"""Property registration (不动产登记), transfer first: tax before certificate (先税后证).

A transfer (``enterprise_to_enterprise``, ``sale``, ``new_build_sale``, ``other_transfer``)
has five steps on the unified property record:

=================  ==========  ===========================================  ================
step               department  done when                                    waits for
=================  ==========  ===========================================  ================
contract_filed     realestate  realestate.contract_filed                    -
tax_paid           tax         tax.property_tax_paid                        -
title_clear        realestate  no active seizure nor objection              -
mortgage_handled   realestate  no active mortgage (none, or released)       -
registration       realestate  realestate.certificate_issued, after         all four
                               acceptance
=================  ==========  ===========================================  ================

A certificate seen before the taxes are paid holds the registration step (``step_held``),
and one issued before the tax payment's own time is flagged (``order_violation``). A
completed transfer notifies water, power and gas (水电气联动过户).

Limits by registration type (Suining, Hengyang, Xi'an):

* immediate (即时办结): ``mortgage_cancellation``, ``seizure``, ``seizure_lifting``,
  ``objection``: one step, the matching fact after acceptance;
* 1 hour: the 11 simple types in :data:`SIMPLE_TYPES` (our reading of the lists; localities
  confirm): one step, a certificate (or registration proof) issued after acceptance;
* 1 working day: ``enterprise_to_enterprise`` and ``mortgage_registration`` (title clear,
  then ``realestate.mortgage_registered``);
* 3 working days: every other transfer.

Every step's limit is the case limit: the documents give no per-step figure.
"""

from __future__ import annotations

from consumers.desk.domain.forms import TransferForm
from consumers.desk.domain.limits import TimeLimit
from consumers.desk.domain.steps import CasePlan, StepSpec, all_facts, none_active

SIMPLE_TYPES = (
    "change_registration",
    "correction_registration",
    "certificate_replacement",
    "certificate_reissue",
    "right_cancellation",
    "mortgage_change",
    "mortgage_transfer",
    "maximum_mortgage_confirmation",
    "advance_notice_registration",
    "advance_notice_cancellation",
    "easement_registration",
)
IMMEDIATE_TYPES = {
    "mortgage_cancellation": "realestate.mortgage_released",
    "seizure": "realestate.seizure_registered",
    "seizure_lifting": "realestate.seizure_lifted",
    "objection": "realestate.objection_registered",
}
TRANSFER_TYPES = ("enterprise_to_enterprise", "sale", "new_build_sale", "other_transfer")

REGISTRATION_TYPES: dict[str, TimeLimit] = {
    **{t: TimeLimit.immediate() for t in IMMEDIATE_TYPES},
    **{t: TimeLimit.hours(1) for t in SIMPLE_TYPES},
    "enterprise_to_enterprise": TimeLimit.working_days(1),
    "mortgage_registration": TimeLimit.working_days(1),
    "sale": TimeLimit.working_days(3),
    "new_build_sale": TimeLimit.working_days(3),
    "other_transfer": TimeLimit.working_days(3),
}
"""Every registration type the form accepts, with its case time limit."""

UTILITIES = ("water", "power", "gas")

_TITLE_CLEAR = (
    ("seizures", "objections"),
    ("realestate.seizure_lifted", "realestate.objection_cancelled"),
)


def _title_clear(limit: TimeLimit) -> StepSpec:
    return StepSpec(
        "title_clear",
        "realestate",
        "无查封、无异议",
        ("realestate.seizure_lifted", "realestate.objection_cancelled"),
        none_active(*_TITLE_CLEAR),
        limit,
    )


def _transfer_steps(limit: TimeLimit) -> tuple[StepSpec, ...]:
    return (
        StepSpec(
            "contract_filed",
            "realestate",
            "网签备案",
            ("realestate.contract_filed",),
            all_facts("realestate.contract_filed"),
            limit,
        ),
        StepSpec(
            "tax_paid",
            "tax",
            "缴纳税费",
            ("tax.property_tax_paid",),
            all_facts("tax.property_tax_paid"),
            limit,
        ),
        _title_clear(limit),
        StepSpec(
            "mortgage_handled",
            "realestate",
            "抵押已处理",
            ("realestate.mortgage_released",),
            none_active(("mortgages",), ("realestate.mortgage_released",)),
            limit,
        ),
        StepSpec(
            "registration",
            "realestate",
            "转移登记发证",
            ("realestate.certificate_issued",),
            all_facts("realestate.certificate_issued"),
            limit,
            after=("contract_filed", "tax_paid", "title_clear", "mortgage_handled"),
            fresh=True,
        ),
    )


def plan(form: TransferForm) -> CasePlan:
    """The steps and limit of a property case for ``form.registration_type``."""
    kind = form.registration_type
    limit = REGISTRATION_TYPES[kind]
    if kind in TRANSFER_TYPES:
        return CasePlan("transfer", kind, limit, _transfer_steps(limit), notify_utilities=True)
    if kind in IMMEDIATE_TYPES:
        fact = IMMEDIATE_TYPES[kind]
        steps: tuple[StepSpec, ...] = (
            StepSpec(kind, "realestate", kind, (fact,), all_facts(fact), limit, fresh=True),
        )
    elif kind == "mortgage_registration":
        steps = (
            _title_clear(limit),
            StepSpec(
                "mortgage_registered",
                "realestate",
                "抵押登记",
                ("realestate.mortgage_registered",),
                all_facts("realestate.mortgage_registered"),
                limit,
                after=("title_clear",),
                fresh=True,
            ),
        )
    else:
        steps = (
            StepSpec(
                "registration",
                "realestate",
                kind,
                ("realestate.certificate_issued",),
                all_facts("realestate.certificate_issued"),
                limit,
                fresh=True,
            ),
        )
    return CasePlan("transfer", kind, limit, steps)
