"""Later life of a simulated enterprise: changes, the abnormal list, deregistration.

Deregistration follows the legal order: tax clearance (清税证明) when the enterprise was a
registered taxpayer, the social-insurance account closed when it had one, then market
supervision deregisters. A simplified deregistration (简易注销) first runs a 20-day public
notice; an enterprise still on the abnormal list may not use it.
"""

from __future__ import annotations

from datetime import timedelta

from producers.enterprise_lifecycle import Enterprise, address_in
from producers.reference_data import (
    ABNORMAL_REMOVAL_REASONS,
    DEREGISTRATION_REASONS,
    INDUSTRIES,
)
from producers.sim_context import Emitter, local_day, money

ABNORMAL_REASONS = (
    "ANNUAL_REPORT_NOT_FILED",
    "INFORMATION_NOT_DISCLOSED",
    "FALSE_INFORMATION",
    "UNREACHABLE_AT_REGISTERED_ADDRESS",
)
NOTICE_DAYS = 20


def change(em: Emitter, ent: Enterprise) -> None:
    """Emit one ``market.changed`` naming one to three changed particulars (others null)."""
    rng = em.rng
    at = em.days_later(ent.last_at, 30, 400)
    fields: dict[str, object] = dict.fromkeys(
        (
            "name",
            "registered_address",
            "legal_representative_name",
            "legal_representative_id",
            "registered_capital",
            "business_scope",
        )
    )
    for what in rng.sample(("name", "address", "legal", "capital", "scope"), rng.randint(1, 3)):
        if what == "name":
            ent.name = ent.name.replace(ent.city.name[:-1], ent.city.name[:-1] + "新", 1)
            fields["name"] = ent.name
        elif what == "address":
            ent.address = address_in(em, ent.city, ent.district_name)
            fields["registered_address"] = ent.address
        elif what == "legal":
            ent.legal_representative = em.person(at)
            fields["legal_representative_name"] = ent.legal_representative.name
            fields["legal_representative_id"] = ent.legal_representative.id_number
        elif what == "capital":
            fields["registered_capital"] = money(rng.randint(1, 500) * 10_000 * 100)
        else:
            fields["business_scope"] = rng.choice(INDUSTRIES)[1]
    em.emit(
        "market.changed",
        at,
        ent.credit_code,
        em.uuid(),
        credit_code=ent.credit_code,
        changed_on=local_day(at),
        **fields,
    )
    ent.last_at = at


def abnormal(em: Emitter, ent: Enterprise, *, removed: bool) -> None:
    """Put the enterprise on the abnormal-operations list, and maybe take it off again."""
    at = em.days_later(ent.last_at, 120, 500)
    authority = f"{ent.city.name}{ent.district_name}市场监督管理局"
    em.emit(
        "market.abnormal_listed",
        at,
        ent.credit_code,
        em.uuid(),
        credit_code=ent.credit_code,
        listed_on=local_day(at),
        reason=em.rng.choice(ABNORMAL_REASONS),
        authority=authority,
    )
    ent.last_at = at
    if removed:
        at = em.days_later(at, 20, 180)
        em.emit(
            "market.abnormal_removed",
            at,
            ent.credit_code,
            em.uuid(),
            credit_code=ent.credit_code,
            removed_on=local_day(at),
            reason=em.rng.choice(ABNORMAL_REMOVAL_REASONS),
        )
        ent.last_at = at


def deregister(em: Emitter, ent: Enterprise, *, simplified: bool) -> None:
    """Close the enterprise: notice (simplified), clearance, social account, deregistration."""
    code, trace = ent.credit_code, em.uuid()
    at = em.days_later(ent.last_at, 10, 120)
    earliest_deregistration = at
    if simplified:
        notice_from = local_day(at)
        notice_until = notice_from + timedelta(days=NOTICE_DAYS)
        em.emit(
            "market.simplified_deregistration_notice",
            at,
            code,
            trace,
            credit_code=code,
            notice_from=notice_from,
            notice_until=notice_until,
        )
        earliest_deregistration = em.working_instant(notice_until + timedelta(days=1))
    if ent.tax_registered:
        at = em.days_later(at, 1, 10)
        em.emit(
            "tax.clearance_issued",
            at,
            code,
            trace,
            credit_code=code,
            certificate_number=f"{ent.city.province_abbr}税清{local_day(at):%Y}{em.digits(8)}",
            issued_on=local_day(at),
        )
    if ent.social_registered:
        at = em.days_later(at, 1, 10)
        em.emit(
            "social.employer_account_closed",
            at,
            code,
            trace,
            credit_code=code,
            closed_on=local_day(at),
        )
    at = max(em.days_later(at, 1, 15), earliest_deregistration)
    em.emit(
        "market.deregistered",
        at,
        code,
        trace,
        credit_code=code,
        deregistered_on=local_day(at),
        simplified=simplified,
        reason="简易注销" if simplified else em.rng.choice(DEREGISTRATION_REASONS),
    )
    ent.last_at = ent.deregistered_at = at


def later_life(em: Emitter, ent: Enterprise) -> None:
    """Draw what happens to an enterprise after start-up and emit it in time order."""
    rng = em.rng
    if rng.random() < 0.2:
        change(em, ent)
    listed_and_kept = False
    if rng.random() < 0.1:
        removed = rng.random() < 0.6
        abnormal(em, ent, removed=removed)
        listed_and_kept = not removed
    if rng.random() < 0.08:
        deregister(em, ent, simplified=not listed_and_kept and rng.random() < 0.35)
