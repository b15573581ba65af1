"""The desk JSON API and pages through FastAPI's TestClient, on the real service (SQLite in a
tmp dir): 422 naming field and rule, roles, privacy in JSON/HTML/errors/logs, audit per view."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from consumers.desk.service import DeskService
from consumers.desk.store.db import make_engine, make_session_factory
from consumers.desk.store.migrate import upgrade
from consumers.desk.web import create_app
from exchange.settings import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
from departments import REP_ID, growing_records  # noqa: E402

pytestmark = pytest.mark.unit

CODE = "91510104MANPWNU0XR"
MASKED = "510104********1231"
FORM: dict[str, Any] = {
    "case_type": "startup", "credit_code": CODE, "legal_representative_name": "张三",
    "legal_representative_id": REP_ID, "address": "成都市武侯区一环路1号",
    "bundle": ["seal", "tax_and_invoices"],
}


def who(role: str, user: str = "window-01") -> dict[str, str]:
    return {"X-Desk-User": user, "X-Desk-Role": role}


@pytest.fixture()
def service(tmp_path: Path) -> DeskService:
    url = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    upgrade(url)
    return DeskService(make_session_factory(make_engine(url)))


@pytest.fixture()
def client(service: DeskService) -> Iterator[TestClient]:
    with TestClient(create_app(service, load_settings(), refresh_seconds=2)) as c:
        yield c


def audit_count(service: DeskService) -> int:
    from sqlalchemy import func, select

    from consumers.desk.store.models import AuditRow

    with service.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(AuditRow)) or 0)


BAD_FORMS = [
    ({"credit_code": CODE[:-1] + "0"}, "credit_code", "check"),
    ({"legal_representative_id": REP_ID[:-1] + "2"}, "legal_representative_id", "MOD 11-2"),
    ({"case_type": "marriage"}, "case_type", "unknown case type"),
    ({"bundle": ["seal", "helicopter"]}, "bundle[1]", "unknown bundle item"),
]


@pytest.mark.parametrize(("change", "field", "rule"), BAD_FORMS)
def test_bad_form_is_422_naming_field_and_rule(
    client: TestClient, service: DeskService, change: dict[str, Any], field: str, rule: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        r = client.post("/api/v1/cases", json={**FORM, **change}, headers=who("clerk"))
    assert r.status_code == 422
    [error] = r.json()["detail"]
    assert error["field"] == field and rule in error["rule"]
    assert REP_ID not in r.text and REP_ID[:-1] not in r.text
    assert REP_ID[:-1] not in caplog.text
    assert service.count_open() == 0  # nothing saved


def test_date_in_wrong_format_is_422(client: TestClient, service: DeskService) -> None:
    form = {"case_type": "transfer", "unit_number": "510104001001GB00001F00010001",
            "registration_type": "sale", "applicant_name": "王五",
            "contract_signed_on": "06/05/2024"}
    r = client.post("/api/v1/cases", json=form, headers=who("clerk"))
    assert r.status_code == 422
    assert r.json()["detail"] == [{"field": "contract_signed_on",
                                   "rule": "must be a date in the form YYYY-MM-DD"}]
    assert service.count_open() == 0


def test_framework_validation_does_not_echo_input(client: TestClient) -> None:
    r = client.post("/api/v1/cases", content=f'["{REP_ID}"]', headers={
        **who("clerk"), "content-type": "application/json"})
    assert r.status_code == 422 and REP_ID not in r.text


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401), (who("admin"), 403), (who("auditor"), 200), (who("applicant"), 403)])
def test_queue_roles(client: TestClient, headers: dict[str, str], status: int) -> None:
    assert client.get("/api/v1/queue", headers=headers).status_code == status


def test_case_masked_by_role_everywhere(client: TestClient,
                                        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        case_id = client.post("/api/v1/cases", json=FORM, headers=who("clerk")).json()["case_id"]
        clerk = client.get(f"/api/v1/cases/{case_id}", headers=who("clerk"))
        page = client.get(f"/cases/{case_id}", headers=who("clerk"))
        sup = client.get(f"/api/v1/cases/{case_id}", headers=who("supervisor"))
    assert clerk.json()["form"]["legal_representative_id"] == MASKED
    assert REP_ID not in clerk.text and REP_ID not in page.text and MASKED in page.text
    assert sup.json()["form"]["legal_representative_id"] == REP_ID
    assert REP_ID not in caplog.text
    queue = client.get("/api/v1/queue", headers=who("clerk")).json()
    assert queue["total"] == 1 and queue["cases"][0]["case_id"] == case_id


def test_applicant_sees_only_own_case(client: TestClient) -> None:
    mine = client.post("/api/v1/cases", json=FORM, headers=who("applicant", "alice"))
    assert mine.status_code == 201
    case_id = mine.json()["case_id"]
    own = client.get(f"/api/v1/cases/{case_id}", headers=who("applicant", "alice"))
    assert own.status_code == 200 and own.json()["form"]["legal_representative_id"] is None
    assert client.get(f"/api/v1/cases/{case_id}",
                      headers=who("applicant", "bob")).status_code == 404


def test_every_record_view_is_audited(client: TestClient, service: DeskService) -> None:
    case_id = client.post("/api/v1/cases", json=FORM, headers=who("clerk")).json()["case_id"]
    for offset, record in enumerate(growing_records(CODE)):
        service.apply_record(record, topic="exchange.enterprise.v1", partition=0,
                             offset=offset, group="test")
    before = audit_count(service)
    api = client.get(f"/api/v1/records/enterprise/{CODE}", headers=who("clerk"))
    page = client.get(f"/records/enterprise/{CODE}", headers=who("clerk"))
    denied = client.get(f"/api/v1/records/enterprise/{CODE}", headers=who("applicant", "eve"))
    missing = client.get("/api/v1/records/enterprise/91510104MARN7EDKXH", headers=who("clerk"))
    assert (api.status_code, page.status_code, denied.status_code, missing.status_code) == (
        200, 200, 403, 404)
    assert audit_count(service) == before + 4
    assert api.json()["fields"]["legal_representative_id"]["value"] == MASKED
    assert REP_ID not in api.text and REP_ID not in page.text
    assert service.verify_audit() == []
    case = client.get(f"/api/v1/cases/{case_id}", headers=who("clerk")).json()
    assert case["status"] == "completed"


def test_rating_only_when_closed(client: TestClient, service: DeskService) -> None:
    case_id = client.post("/api/v1/cases", json=FORM, headers=who("clerk")).json()["case_id"]
    r = client.post(f"/api/v1/cases/{case_id}/rating", json={"score": 5}, headers=who("clerk"))
    assert r.status_code == 409
    for offset, record in enumerate(growing_records(CODE)):
        service.apply_record(record, topic="t", partition=0, offset=offset, group="g")
    bad = client.post(f"/api/v1/cases/{case_id}/rating", json={"score": 9}, headers=who("clerk"))
    assert bad.status_code == 422
    ok = client.post(f"/api/v1/cases/{case_id}/rating", json={"score": 5, "comment": "好"},
                     headers=who("clerk"))
    assert ok.status_code == 204


def test_window_page_shows_errors_beside_fields(client: TestClient,
                                               service: DeskService) -> None:
    body = ("case_type=startup&credit_code=&pending_name=%E7%A4%BA%E4%BE%8B"
            "&legal_representative_name=%E5%BC%A0&legal_representative_id=" + REP_ID[:-1] + "2"
            "&address=x&bundle=seal")
    r = client.post("/window", content=body, headers={
        **who("clerk"), "content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422
    assert 'data-field="legal_representative_id"' in r.text
    assert REP_ID[:-1] not in r.text
    assert service.count_open() == 0


def test_pages_ask_for_a_role_and_healthz(client: TestClient) -> None:
    r = client.get("/queue", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/choose")
    assert client.post("/choose", content="role=root&user=x", headers={
        "content-type": "application/x-www-form-urlencoded"}).status_code == 403
    assert client.get("/healthz").json() == {"status": "ok"}
    assert "/api/v1/cases" in client.get("/openapi.json").json()["paths"]
