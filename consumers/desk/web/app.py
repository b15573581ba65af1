"""The desk web application, built by a factory (nothing at import time).

``create_app(service, settings)`` wires the pages (:mod:`.pages`), the JSON API under
``/api/v1`` (:mod:`.api`) and ``/healthz`` around one :class:`DeskService`. Errors are
answered here in one shape, ``{"detail": [{"field", "rule"}]}``, and never echo what was
sent: FastAPI's own validation errors carry the input (a resident ID, perhaps), so they are
rewritten without it; every message passes :func:`exchange.privacy.scrub_text`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from consumers.desk.domain import InvalidForm, UnknownProfile
from consumers.desk.service import DeskService
from consumers.desk.web.actors import ROLE_LABELS
from consumers.desk.web.views import time_left_text
from exchange.privacy import PolicySource, scrub_text
from exchange.schemas import SchemaRegistry
from exchange.settings import Settings

log = logging.getLogger("consumers.desk.web")
TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True, slots=True)
class WebContext:
    """What every route needs, kept on ``app.state.desk``."""

    service: DeskService
    registry: PolicySource
    templates: Jinja2Templates
    refresh_seconds: int
    page_size: int


def form_errors(exc: InvalidForm | UnknownProfile) -> list[dict[str, str]]:
    """The 422 body entries of a rejected form: the field and the rule, scrubbed."""
    if isinstance(exc, UnknownProfile):
        return [{"field": "profile", "rule": scrub_text(str(exc))}]
    return [{"field": exc.field, "rule": scrub_text(exc.rule)}]


def create_app(
    service: DeskService,
    settings: Settings,
    *,
    registry: PolicySource | None = None,
    refresh_seconds: int = 5,
    page_size: int = 50,
) -> FastAPI:
    """The desk application around ``service``; schemas from ``settings.schemas_dir``."""
    from consumers.desk.web import api, pages

    app = FastAPI(
        title="One-window desk 一窗受理",
        version="1",
        description="Cases, queue and unified records of the one-window desk. The actor is "
        "named by the X-Desk-User and X-Desk-Role headers, which an authenticating proxy "
        "sets in a real deployment.",
    )
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals["role_labels"] = ROLE_LABELS
    templates.env.filters["time_left"] = time_left_text
    templates.env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": True,
                                                   "default": str}
    app.state.desk = WebContext(
        service=service,
        registry=registry or SchemaRegistry.load(settings.schemas_dir),
        templates=templates,
        refresh_seconds=refresh_seconds,
        page_size=page_size,
    )
    app.include_router(api.router)
    app.include_router(pages.router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers (the database is not touched)."""
        return {"status": "ok"}

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        detail = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body",
                   "rule": scrub_text(str(e.get("msg", "invalid")))} for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/") or request.url.path == "/healthz":
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                headers=exc.headers)
        return pages.error_page(request, exc)

    return app


def context(request: Request) -> WebContext:
    """The app's :class:`WebContext`."""
    ctx: Any = request.app.state.desk
    return ctx  # type: ignore[no-any-return]
