"""Server-rendered pages: window, queue, case, unified record, role chooser.

Same rules as the API (one actor, one permission table, one privacy cut in :mod:`.views`);
the pages add a role chooser stored in cookies and a meta refresh on the queue and on an
open case, so a person sees the departments' steps complete without pressing reload.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from consumers.desk.domain import InvalidForm, UnknownProfile
from consumers.desk.domain.forms import BUNDLE_ITEMS
from consumers.desk.domain.startup import PROFILES
from consumers.desk.domain.transfer import REGISTRATION_TYPES
from consumers.desk.service import Actor
from consumers.desk.web.actors import (
    ROLE_COOKIE,
    USER_COOKIE,
    NoActor,
    actor_from,
    check_role,
    require,
)
from consumers.desk.web.api import rate_case, read_record, visible_case
from consumers.desk.web.app import context, form_errors
from consumers.desk.web.forms import FIELDS, BodyTooLarge, echo, parse_post, to_form
from consumers.desk.web.views import completeness_rows, summary_view

router = APIRouter(include_in_schema=False)

BUNDLE_LABELS = {
    "seal": "印章刻制 Seal",
    "tax_and_invoices": "涉税事项及首次发票 Tax + invoices",
    "tax_control_device": "税控设备 Tax-control device",
    "social_security": "社保登记 Social security",
    "housing_fund": "公积金开户 Housing fund",
    "bank_account": "银行开户 Bank account",
}


def _render(request: Request, name: str, status: int = 200, **data: Any) -> HTMLResponse:
    ctx = context(request)
    return ctx.templates.TemplateResponse(request, name, {"refresh": None, **data},
                                          status_code=status)


def page_actor(request: Request) -> Actor | RedirectResponse:
    """The actor, or a redirect to the role chooser when the request names none."""
    try:
        return actor_from(request)
    except NoActor:
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/choose?next={target}", status_code=303)


def error_page(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
    """An HTTP error as a page (the detail names a field and rule, never a value)."""
    detail = exc.detail if isinstance(exc.detail, dict) else {"rule": str(exc.detail)}
    return _render(request, "error.html", exc.status_code, code=exc.status_code,
                   detail=detail, actor=None)


@router.get("/")
def home() -> RedirectResponse:
    """The window page is the start."""
    return RedirectResponse("/window", status_code=303)


@router.get("/choose", response_class=HTMLResponse)
def choose(request: Request, next: str = Query("/window")) -> HTMLResponse:
    """Pick a role and a user name (stands in for the authenticating proxy)."""
    return _render(request, "choose.html", next=next if next.startswith("/") else "/window",
                   actor=None)


@router.post("/choose")
async def chosen(request: Request) -> Response:
    """Store the chosen role and user in cookies; 403 for an unknown role."""
    post = parse_post(await request.body())
    role = (post.get("role") or [""])[0]
    user = (post.get("user") or [""])[0].strip() or role
    check_role(role)
    target = (post.get("next") or ["/window"])[0]
    response = RedirectResponse(target if target.startswith("/") else "/window", 303)
    response.set_cookie(ROLE_COOKIE, role, httponly=True, samesite="strict")
    response.set_cookie(USER_COOKIE, user, httponly=True, samesite="strict")
    return response


def _window(request: Request, actor: Actor, status: int = 200, *, active: str = "startup",
            **data: Any) -> HTMLResponse:
    active = active if active in FIELDS else "startup"
    shown = set(FIELDS[active]) | {"bundle", "profile", "missing_items", "registration_type"}
    return _render(request, "window.html", status, actor=actor, bundle_items=BUNDLE_ITEMS,
                   bundle_labels=BUNDLE_LABELS, profiles=sorted(PROFILES),
                   registration_types=sorted(REGISTRATION_TYPES), active=active,
                   field_names=shown, **{"values": {}, "errors": {}, **data})


@router.get("/window", response_class=HTMLResponse)
def window(request: Request, type: str = Query("startup")) -> Response:
    """The one form (一表申报): start-up, transfer, deregistration."""
    actor = page_actor(request)
    if isinstance(actor, Response):
        return actor
    require(actor, "submit")
    return _window(request, actor, active=type)


@router.post("/window")
async def submit(request: Request) -> Response:
    """Submit the form; on a rule broken, the page again with the error beside the field."""
    actor = page_actor(request)
    if isinstance(actor, Response):
        return actor
    require(actor, "submit")
    try:
        post = parse_post(await request.body())
    except BodyTooLarge as exc:
        raise HTTPException(413, detail={"field": "form", "rule": str(exc)}) from None
    form, profile = to_form(post)
    try:
        case_id = await run_in_threadpool(context(request).service.submit, form, actor, profile)
    except (InvalidForm, UnknownProfile) as exc:
        errors = {e["field"].split("[")[0]: e["rule"] for e in form_errors(exc)}
        return _window(request, actor, 422, values=echo(post), errors=errors,
                       active=str(form.get("case_type") or "startup"))
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.get("/queue", response_class=HTMLResponse)
def queue(request: Request, page: int = Query(1, ge=1, le=100_000),
          case_type: str | None = Query(None)) -> Response:
    """Open cases, nearest deadline first; overdue ones in red; paged."""
    actor = page_actor(request)
    if isinstance(actor, Response):
        return actor
    require(actor, "queue")
    ctx = context(request)
    rows = ctx.service.open_cases(limit=ctx.page_size, offset=(page - 1) * ctx.page_size,
                                  case_type=case_type or None)
    total = ctx.service.count_open()
    pages = max(1, -(-total // ctx.page_size))
    return _render(request, "queue.html", actor=actor, refresh=ctx.refresh_seconds,
                   cases=[summary_view(r, actor.role) for r in rows], total=total, page=page,
                   pages=pages, case_type=case_type or "")


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: str) -> Response:
    """A case: each department's step and source fact, notices, timeline, rating."""
    actor = page_actor(request)
    if isinstance(actor, Response):
        return actor
    require(actor, "case")
    case = visible_case(request, actor, case_id)
    is_open = case.get("status") not in ("completed", "closed", "rejected", "withdrawn")
    return _render(request, "case.html", actor=actor, case=case,
                   refresh=context(request).refresh_seconds if is_open else None,
                   can_rate=actor.role in ("clerk", "applicant") and not is_open
                   and not case.get("rating"))


@router.post("/cases/{case_id}/rating")
async def rate(request: Request, case_id: str) -> Response:
    """The rating form of a closed case."""
    post = parse_post(await request.body())
    body = {"score": (post.get("score") or [""])[0], "comment": (post.get("comment") or [""])[0]}
    result = await run_in_threadpool(rate_case, request, case_id, body)
    if result.status_code != 204:
        raise HTTPException(result.status_code, detail={"field": "score", "rule": "not accepted"})
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.get("/records/{kind}/{key}", response_class=HTMLResponse)
def record_page(request: Request, kind: str, key: str,
                case: str | None = Query(None)) -> Response:
    """The unified record: fields with their source, completeness, conflicts; audited."""
    actor = page_actor(request)
    if isinstance(actor, Response):
        return actor
    record = read_record(request, actor, kind, key, case, "page")
    conflicted = {c["attribute"] for c in record.get("conflicts", [])}
    return _render(request, "record.html", actor=actor, record=record, case_id=case,
                   completeness=completeness_rows(record), conflicted=conflicted)
