"""The JSON API, ``/api/v1``: submit a case, the queue, a case, a unified record, a rating.

Routes are plain ``def``: the service is synchronous (SQLAlchemy), FastAPI runs them in its
thread pool. Every record read writes an audit entry first, found or not, allowed or not.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from consumers.desk.domain import CaseStateError, InvalidForm, UnknownProfile
from consumers.desk.service import Actor
from consumers.desk.web.actors import NoActor, actor_from, owns, require
from consumers.desk.web.app import context, form_errors
from consumers.desk.web.views import RECORD_KINDS, case_view, record_ref, record_view, summary_view

router = APIRouter(prefix="/api/v1", tags=["desk"])
log = logging.getLogger("consumers.desk.web")

FORM_EXAMPLE = {
    "case_type": "startup",
    "pending_name": "成都示例科技有限公司",
    "legal_representative_name": "张三",
    "legal_representative_id": "510104199005171231",
    "address": "成都市武侯区一环路1号",
    "bundle": ["seal", "tax_and_invoices", "social_security"],
}


def api_actor(request: Request) -> Actor:
    """The actor; 401 when the request names none."""
    try:
        return actor_from(request)
    except NoActor:
        detail = {"field": "X-Desk-User", "rule": "X-Desk-User and X-Desk-Role are required"}
        raise HTTPException(401, detail=detail) from None


def visible_case(request: Request, actor: Actor, case_id: str) -> dict[str, Any]:
    """The case as the actor may see it; 404 if absent or (for an applicant) not theirs."""
    ctx = context(request)
    detail = ctx.service.case(case_id)
    if detail is None:
        raise HTTPException(404, detail={"field": "case_id", "rule": "no such case"})
    view = case_view(detail, actor.role, ctx.registry)
    if not owns(actor, view, ctx.service):
        raise HTTPException(404, detail={"field": "case_id", "rule": "no such case"})
    return view


@router.post("/cases", status_code=201, responses={422: {"description": "field and rule"}})
def submit_case(
    request: Request,
    form: dict[str, Any] = Body(..., examples=[FORM_EXAMPLE]),  # noqa: B008
    profile: str = Query("default", description="locality profile of a start-up case"),
) -> JSONResponse:
    """Submit the one form; 422 ``{"detail": [{"field", "rule"}]}`` and nothing saved if bad."""
    actor = api_actor(request)
    require(actor, "submit")
    try:
        case_id = context(request).service.submit(form, actor, profile)
    except (InvalidForm, UnknownProfile) as exc:
        errors = form_errors(exc)
        log.info("form rejected: %s", errors)
        return JSONResponse({"detail": errors}, status_code=422)
    return JSONResponse({"case_id": case_id, "url": f"/api/v1/cases/{case_id}"},
                        status_code=201)


@router.get("/queue")
def queue(
    request: Request,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    case_type: str | None = Query(None),
) -> dict[str, Any]:
    """Open cases, nearest deadline first, with time left (negative when overdue)."""
    actor = api_actor(request)
    require(actor, "queue")
    service = context(request).service
    rows = service.open_cases(limit=limit, offset=offset, case_type=case_type)
    return {"total": service.count_open(), "limit": limit, "offset": offset,
            "cases": [summary_view(r, actor.role) for r in rows]}


@router.get("/cases/{case_id}")
def get_case(request: Request, case_id: str) -> dict[str, Any]:
    """A case: steps with their source facts, notices, timeline, rating; form cut by role."""
    actor = api_actor(request)
    require(actor, "case")
    return visible_case(request, actor, case_id)


def read_record(request: Request, actor: Actor, kind: str, key: str, case_id: str | None,
                channel: str) -> dict[str, Any]:
    """The record cut for the actor, after writing the audit entry (pages share this)."""
    ctx = context(request)
    require(actor, "record")
    if kind not in RECORD_KINDS:
        raise HTTPException(404, detail={"field": "kind", "rule": "enterprise or property"})
    allowed = True
    if actor.role == "applicant":  # only the record of one of their own cases
        allowed = False
        if case_id:
            try:
                allowed = record_ref(visible_case(request, actor, case_id)) == {
                    "kind": kind, "key": key}
            except HTTPException:
                allowed = False
    record = ctx.service.record(kind, key) if allowed else None
    ctx.service.audit(actor, "read_record", kind, key, {
        "channel": channel, "allowed": allowed, "found": record is not None,
        "case_id": case_id})
    if not allowed:
        raise HTTPException(403, detail={"field": "key",
                                         "rule": "an applicant sees only the record of "
                                                 "their own case"})
    if record is None:
        raise HTTPException(404, detail={"field": "key", "rule": "no record yet"})
    return record_view(record, actor.role, ctx.registry)


@router.get("/records/{kind}/{key}")
def get_record(request: Request, kind: str, key: str,
               case: str | None = Query(None, description="case id (applicants)")) -> Any:
    """A unified record cut by role; every call writes an audit entry."""
    return read_record(request, api_actor(request), kind, key, case, "api")


@router.post("/cases/{case_id}/rating", status_code=204)
def rate_case(
    request: Request,
    case_id: str,
    rating: dict[str, Any] = Body(..., examples=[{"score": 5, "comment": "很好"}]),  # noqa: B008
) -> Response:
    """Rate a closed case (好差评); 409 if open or already rated, 422 for a bad score."""
    actor = api_actor(request)
    require(actor, "rate")
    visible_case(request, actor, case_id)
    comment = rating.get("comment", "")
    if not isinstance(comment, str) or len(comment) > 500:
        return JSONResponse({"detail": [{"field": "comment", "rule": "at most 500 characters"}]},
                            status_code=422)
    try:
        context(request).service.rate(case_id, rating.get("score"), actor, comment)  # type: ignore[arg-type]
    except InvalidForm as exc:
        return JSONResponse({"detail": form_errors(exc)}, status_code=422)
    except CaseStateError as exc:
        return JSONResponse({"detail": [{"field": "case_id", "rule": str(exc)}]},
                            status_code=409)
    except ValueError as exc:
        return JSONResponse({"detail": [{"field": "score", "rule": str(exc)}]},
                            status_code=422)
    return Response(status_code=204)
