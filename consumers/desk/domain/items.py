"""Materials an applicant may hand in later (容缺受理) or promise (告知承诺).

Each item has a risk class. A signed promise is accepted only for low-risk items; a high-risk
item needs data sharing or a cross-check (协查), so a promise for it is refused and the item
stays missing, with a deadline, until supplied or until the record shows its fact. The
catalogue is our reading of the documents; localities adjust it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from consumers.desk.domain.limits import TimeLimit

Risk = Literal["low", "high"]


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """A material of the one form; ``fact`` is a department fact that proves it by sharing."""

    name: str
    title: str
    risk: Risk
    limit: TimeLimit
    fact: str | None = None


def refusal_reason(spec: ItemSpec) -> str | None:
    """Why a promise for this item is refused, or ``None`` if a promise is acceptable."""
    if spec.risk == "low":
        return None
    return (
        f"'{spec.name}' is classed high-risk: a signed promise (告知承诺) is not accepted; "
        "it must be supplied or confirmed by data sharing or a cross-check (协查)"
    )


_5WD = TimeLimit.working_days(5)
_10WD = TimeLimit.working_days(10)

CATALOGUE: dict[str, tuple[ItemSpec, ...]] = {
    "startup": (
        ItemSpec("premises_proof", "住所(经营场所)使用证明", "low", _10WD),
        ItemSpec("articles_of_association", "公司章程", "low", _5WD),
        ItemSpec("shareholder_resolution", "股东会决议", "low", _5WD),
        ItemSpec("legal_representative_id_copy", "法定代表人身份证明", "high", _5WD),
        ItemSpec("prior_permit", "前置审批许可文件", "high", _10WD),
    ),
    "transfer": (
        ItemSpec("marital_status_statement", "婚姻状况证明", "low", _5WD),
        ItemSpec("household_statement", "家庭住房情况说明", "low", _5WD),
        ItemSpec("identity_documents", "申请人身份证明", "high", _5WD),
        ItemSpec("power_of_attorney", "授权委托书", "high", _5WD),
        ItemSpec("tax_payment_receipt", "完税凭证", "high", _5WD, fact="tax.property_tax_paid"),
    ),
    "deregistration": (
        ItemSpec("liquidation_report", "清算报告", "low", _10WD),
        ItemSpec("creditor_notice_proof", "债权人公告证明", "low", _10WD),
        ItemSpec("seal_return", "印章缴销", "low", _10WD),
        ItemSpec(
            "tax_clearance_certificate", "清税证明", "high", _10WD, fact="tax.clearance_issued"
        ),
    ),
}


def item_spec(case_type: str, name: str) -> ItemSpec | None:
    """The catalogue entry ``name`` for ``case_type``, or ``None``."""
    return next((s for s in CATALOGUE.get(case_type, ()) if s.name == name), None)
