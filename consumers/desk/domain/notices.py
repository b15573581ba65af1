"""Notices the window hands out: acceptance (一次告知), completion, and utilities transfer.

Tell everything once: the acceptance notice is the only notice that lists missing items, and
it lists all of them, with each deadline, accepted promises and refused ones with the reason.
Notices are JSON-able dicts carried by ``notice_issued`` / ``utilities_notified`` entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consumers.desk.domain.items import ItemSpec
from consumers.desk.domain.steps import CasePlan
from consumers.desk.domain.transfer import UTILITIES


@dataclass(frozen=True, slots=True)
class ItemLine:
    """One line of the acceptance notice."""

    spec: ItemSpec
    status: str  # "missing" or "promised"
    due_at: datetime | None
    refused_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "item": self.spec.name,
            "title": self.spec.title,
            "risk": self.spec.risk,
            "status": self.status,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "promise_refused": self.refused_reason,
        }


def acceptance_notice(
    case_id: str, plan: CasePlan, lines: Sequence[ItemLine], due_at: datetime
) -> dict[str, Any]:
    """受理通知书: every missing item at once, the steps to come and the case deadline."""
    return {
        "notice": "acceptance",
        "case_id": case_id,
        "case_type": plan.case_type,
        "profile": plan.profile,
        "case_limit": str(plan.case_limit),
        "due_at": due_at.isoformat(),
        "missing_items": [line.to_dict() for line in lines],
        "steps": [
            {"step": s.name, "department": s.department, "title": s.title, "limit": str(s.limit)}
            for s in plan.steps
        ],
    }


def completion_notice(case_id: str, plan: CasePlan, sources: dict[str, Any]) -> dict[str, Any]:
    """出件通知: the case is done; each step with the fact (or deemed approval) behind it."""
    return {
        "notice": "completion",
        "case_id": case_id,
        "case_type": plan.case_type,
        "steps": sources,
    }


def utilities_notice(
    case_id: str, unit_number: str, new_owner: str, certificate: dict[str, Any] | None
) -> dict[str, Any]:
    """水电气联动过户: water, power and gas follow the property to its new owner."""
    return {
        "notice": "utilities",
        "case_id": case_id,
        "unit_number": unit_number,
        "new_owner": new_owner,
        "recipients": list(UTILITIES),
        "certificate": certificate,
    }
