"""Who is asking: the actor of a request, and what each role may do at the desk.

The actor comes from two headers, ``X-Desk-User`` and ``X-Desk-Role``. The desk trusts them
as given: a real deployment puts an authenticating proxy in front (the hall's single sign-on)
that strips both headers from the client's request and sets them from the signed-in account.
For the pages, a person without such a proxy picks a role with the chooser, stored in two
cookies (``desk_user``, ``desk_role``); headers win over cookies. An unknown role is a 403.
What a role may *see* of a record or form is decided by :mod:`exchange.privacy`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException, Request

from consumers.desk.service import Actor, DeskService
from exchange.privacy import ROLES, entitlement

USER_HEADER = "X-Desk-User"
ROLE_HEADER = "X-Desk-Role"
USER_COOKIE = "desk_user"
ROLE_COOKIE = "desk_role"
_USER = re.compile(r"^[\w.@\-]{1,100}$")

#: action -> roles allowed; applicants are further limited to their own cases.
PERMISSIONS: Mapping[str, frozenset[str]] = {
    "submit": frozenset({"clerk", "supervisor", "applicant"}),
    "queue": frozenset({"clerk", "supervisor", "auditor"}),
    "case": frozenset(ROLES),
    "record": frozenset(ROLES),
    "rate": frozenset({"clerk", "applicant"}),
}

ROLE_LABELS: Mapping[str, str] = {
    "clerk": "窗口人员 Clerk",
    "supervisor": "督办人员 Supervisor",
    "auditor": "审计人员 Auditor",
    "applicant": "申请人 Applicant",
}


class NoActor(Exception):
    """The request names no actor (no headers, no cookie)."""


def actor_from(request: Request) -> Actor:
    """The request's actor; :class:`NoActor` if none is named, 403 for a bad role or user."""
    headers = request.headers
    user = headers.get(USER_HEADER) or request.cookies.get(USER_COOKIE)
    role = headers.get(ROLE_HEADER) or request.cookies.get(ROLE_COOKIE)
    if not user and not role:
        raise NoActor()
    check_role(role)
    if not user or not _USER.match(user):
        raise HTTPException(403, detail={"field": USER_HEADER,
                                         "rule": "must be 1-100 letters, digits or . @ _ -"})
    return Actor(user=user, role=str(role))


def check_role(role: object) -> None:
    """403 unless ``role`` is one of :data:`exchange.privacy.ROLES`."""
    try:
        entitlement(str(role))
    except Exception:
        detail = {"field": ROLE_HEADER, "rule": f"unknown role; known: {', '.join(ROLES)}"}
        raise HTTPException(403, detail=detail) from None


def require(actor: Actor, action: str) -> None:
    """403 unless the actor's role may perform ``action``."""
    if actor.role not in PERMISSIONS[action]:
        raise HTTPException(403, detail={"action": action,
                                         "rule": f"role {actor.role!r} may not {action}"})


def owns(actor: Actor, case: Mapping[str, Any], service: DeskService) -> bool:
    """Whether ``actor`` may see ``case``: any staff role; an applicant only their own."""
    if not entitlement(actor.role).own_cases_only:
        return True
    owner = case.get("submitted_by") or submitted_by(service, str(case.get("case_id")))
    return owner is not None and owner == actor.user


def submitted_by(service: DeskService, case_id: str) -> str | None:
    """Who submitted a case. ``CaseDetail`` does not carry it (yet), so it is read from the
    case row through the service's own unit of work: read-only, one primary-key lookup."""
    with service.uow() as uow:
        row = uow.cases.row(case_id)
        return None if row is None else str(row.submitted_by)
