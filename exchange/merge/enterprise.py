"""Rules of the enterprise record: lifecycle status and conflicts between departments.

Everything here is derived from the semilattice state the fold keeps (``facts``, the latest
event of each type, and ``claims``, each department's latest value of a contested attribute),
so it is the same whatever order the events arrived in.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from .catalogue import AUTHORITY
from .order import order_of
from .values import normalise_text

#: Event types whose arrival can change ``status`` or ``lifecycle``.
LIFECYCLE_TYPES = frozenset(
    {
        "market.established",
        "market.deregistered",
        "market.abnormal_listed",
        "market.abnormal_removed",
        "market.simplified_deregistration_notice",
        "tax.taxpayer_registered",
        "tax.clearance_issued",
        "social.employer_registered",
        "social.employer_account_closed",
    }
)


def initial_state() -> dict[str, Any]:
    """The enterprise-only parts of an empty record."""
    return {
        "status": "pending",
        "lifecycle": {
            "tax": "unregistered",
            "social": "unregistered",
            "deregistration_ready": False,
        },
        "collections": {"properties": {}},
    }


def apply(new: dict[str, Any], event_type: str, claims_changed: bool) -> None:
    """Recompute what the event can have changed in ``new`` (a fresh top-level dict)."""
    if event_type in LIFECYCLE_TYPES:
        facts = new["facts"]
        new["status"] = derive_status(facts)
        new["lifecycle"] = derive_lifecycle(facts)
    if claims_changed:
        new["conflicts"] = derive_conflicts(new["claims"])


def _later(facts: Mapping[str, Any], first: str, second: str) -> str | None:
    """Which of two event types happened last (by the latest event of each), if any."""
    a, b = facts.get(first), facts.get(second)
    if a is None:
        return None if b is None else second
    if b is None:
        return first
    return first if order_of(a) > order_of(b) else second


def derive_status(facts: Mapping[str, Any]) -> str:
    """The enterprise's licence status from market supervision's facts.

    In order of precedence: ``deregistered`` (terminal: no event revives a deregistered
    enterprise); ``pending`` (not established yet, whatever else arrived); ``abnormal`` (the
    latest listing is later than the latest removal); ``in_deregistration`` (a simplified
    deregistration notice later than any listing: a listing ends the simplified procedure);
    ``active``.
    """
    if "market.deregistered" in facts:
        return "deregistered"
    if "market.established" not in facts:
        return "pending"
    if _later(facts, "market.abnormal_listed", "market.abnormal_removed") == (
        "market.abnormal_listed"
    ):
        return "abnormal"
    notice = _later(facts, "market.simplified_deregistration_notice", "market.abnormal_listed")
    if notice == "market.simplified_deregistration_notice":
        return "in_deregistration"
    return "active"


def derive_lifecycle(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Tax and social-security states, and whether market deregistration may proceed.

    ``tax``: unregistered / registered / cleared, by whichever of ``tax.taxpayer_registered``
    and ``tax.clearance_issued`` happened last; ``social``: unregistered / registered /
    closed likewise. ``deregistration_ready``: tax cleared and no open social account.
    """
    tax = {
        None: "unregistered",
        "tax.taxpayer_registered": "registered",
        "tax.clearance_issued": "cleared",
    }[_later(facts, "tax.taxpayer_registered", "tax.clearance_issued")]
    social = {
        None: "unregistered",
        "social.employer_registered": "registered",
        "social.employer_account_closed": "closed",
    }[_later(facts, "social.employer_registered", "social.employer_account_closed")]
    return {
        "tax": tax,
        "social": social,
        "deregistration_ready": tax == "cleared" and social != "registered",
    }


def derive_conflicts(claims: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Contested attributes whose departments' latest values differ (after normalising).

    One entry per attribute, sorted by attribute; its values sorted by the department's
    place in ``AUTHORITY`` (the deciding department first).
    """
    conflicts = []
    for attribute in sorted(claims):
        by_department = claims[attribute]
        if len({_comparable(c["value"]) for c in by_department.values()}) < 2:
            continue
        ranking = AUTHORITY[attribute]
        conflicts.append(
            {
                "attribute": attribute,
                "values": [
                    {"department": department, **by_department[department]}
                    for department in ranking
                    if department in by_department
                ],
            }
        )
    return conflicts


def _comparable(value: Any) -> Any:
    """A hashable, normalised form of a claimed value."""
    return _normalised(value) if isinstance(value, str) else repr(value)


@functools.lru_cache(maxsize=8192)
def _normalised(text: str) -> str:
    # Conflicts are recomputed from every claim each time one changes, and the same names
    # and addresses come back: NFKC was a tenth of the fold of an enterprise event.
    return str(normalise_text(text))
