"""The desk's store contract, run against SQLite and PostgreSQL alike (``desk_db_url``).

Migrations, a case persisted and restored, idempotent re-delivery with offsets, records kept
for later, ratings and the audit chain. The scheduler's restart safety is in
``test_desk_scheduler.py``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, inspect, select, text

from consumers.desk.domain import CaseStateError, InvalidForm, accept, parse_form
from consumers.desk.service import Actor, DeskService
from consumers.desk.store.db import make_engine, make_session_factory
from consumers.desk.store.migrate import current_revision, downgrade, head_revision, upgrade
from consumers.desk.store.models import OffsetRow, RatingRow, TimelineRow
from exchange.identifiers import make_credit_code, make_resident_id

pytestmark = pytest.mark.integration

RNG = random.Random(44)
CLERK = Actor("clerk-1", "clerk")


def t(text_: str) -> datetime:
    """An instant in China time."""
    return datetime.fromisoformat(f"{text_}+08:00")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def startup_form(code: str | None = None, **extra: Any) -> dict[str, Any]:
    """A valid start-up form (Qingbaijiang-sized bundle: the seal only)."""
    return {
        "case_type": "startup",
        "credit_code": code or make_credit_code(RNG, "510113"),
        "legal_representative_name": "张三",
        "legal_representative_id": make_resident_id(RNG, "510113", date(1985, 3, 1)),
        "address": "成都市青白江区大同路1号",
        "bundle": ["seal"],
        **extra,
    }


def record(key: str, facts: dict[str, str]) -> dict[str, Any]:
    """A unified enterprise record with ``facts`` {event type: China time}."""
    history = sorted(
        (
            {
                "event_id": f"ev-{key}-{name}",
                "event_type": name,
                "department": name.split(".")[0],
                "occurred_at": t(at).isoformat(),
            }
            for name, at in facts.items()
        ),
        key=lambda h: (h["occurred_at"], h["event_id"]),
    )
    return {
        "kind": "enterprise",
        "key": key,
        "fields": {},
        "facts": {h["event_type"]: {**h, "count": 1} for h in history},
        "completeness": {},
        "conflicts": [],
        "status": "active",
        "collections": {},
        "history": history,
    }


@pytest.fixture
def engine(desk_db_url: str) -> Iterator[Engine]:
    eng = make_engine(desk_db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(t("2025-09-22T09:30"))  # a Monday


@pytest.fixture
def sink() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def service(engine: Engine, clock: Clock, sink: list[dict[str, Any]]) -> DeskService:
    return DeskService(make_session_factory(engine), clock=clock, application_sink=sink.append)


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_migrations_go_up_down_and_up_again(desk_db_url: str, engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    downgrade(desk_db_url)
    assert not [n for n in inspect(engine).get_table_names() if n.startswith("desk_")]
    upgrade(desk_db_url)
    assert current_revision(engine) == head_revision()
    assert {"desk_cases", "desk_timeline", "desk_offsets", "desk_audit_log"} <= set(
        inspect(engine).get_table_names()
    )


def test_submit_persists_the_case_and_its_timeline(
    service: DeskService, clock: Clock, sink: list[dict[str, Any]]
) -> None:
    form = startup_form(profile_hint="ignored")
    case_id = service.submit(form, CLERK, "qingbaijiang")
    _, expected = accept("x", parse_form(form), clock.now, profile="qingbaijiang")
    detail = service.case(case_id)
    assert detail is not None
    assert [(e["kind"], e["subject"]) for e in detail.timeline] == [
        (e.kind.value, e.subject) for e in expected
    ]
    assert detail.form["legal_representative_id"] == form["legal_representative_id"]  # unmasked
    assert detail.summary.subject == form["credit_code"]
    assert detail.summary.deadline == t("2025-09-22T15:00")  # 4 h of office time
    assert detail.summary.time_left_seconds == 4 * 3600
    assert [s["step"] for s in detail.steps] == ["licence", "seal"]
    assert [n["notice"] for n in detail.notices] == ["acceptance"]
    assert len(sink) == 1 and sink[0]["case_id"] == case_id
    assert sink[0]["event_type"] == "desk.application_submitted"
    assert service.count_open() == 1
    assert [c.case_id for c in service.open_cases()] == [case_id]


def test_an_invalid_form_saves_nothing(
    service: DeskService, engine: Engine, sink: list[dict[str, Any]]
) -> None:
    with pytest.raises(InvalidForm, match="bundle"):
        service.submit(startup_form(bundle=["teleporter"]), CLERK)
    assert service.count_open() == 0 and count(engine, TimelineRow) == 0 and sink == []


def test_redelivered_record_adds_nothing_and_offsets_advance_once(
    service: DeskService, engine: Engine
) -> None:
    case_id = service.submit(startup_form(), CLERK, "qingbaijiang")
    detail = service.case(case_id)
    assert detail is not None
    key = detail.summary.subject
    rec = record(key, {"market.established": "2025-09-22T10:00"})
    where = {"topic": "exchange.enterprise.v1", "partition": 2, "group": "g"}
    first = service.apply_record(rec, offset=7, **where)
    assert first > 0
    entries = count(engine, TimelineRow)
    assert service.apply_record(rec, offset=7, **where) == 0  # the same message again
    assert service.apply_record(rec, offset=3, **where) == 0  # an older one
    assert service.apply_record(rec, offset=8, **where) == 0  # same record, new offset
    assert count(engine, TimelineRow) == entries
    with engine.connect() as conn:
        rows = conn.execute(select(OffsetRow.topic, OffsetRow.partition, OffsetRow.next_offset))
        assert list(rows) == [("exchange.enterprise.v1", 2, 9)]
    detail = service.case(case_id)
    assert detail is not None and detail.steps[0]["state"] == "completed"
    assert detail.steps[0]["source"]["event_id"] == f"ev-{key}-market.established"


def test_a_record_without_a_case_is_kept_and_used_at_acceptance(
    service: DeskService, clock: Clock
) -> None:
    code = make_credit_code(RNG, "510113")
    facts = {"market.established": "2025-09-22T09:00", "seal.seal_engraved": "2025-09-22T09:10"}
    where = {"topic": "exchange.enterprise.v1", "partition": 0, "group": "g"}
    assert service.apply_record(record(code, facts), offset=0, **where) == 0
    assert service.record("enterprise", code) == record(code, facts)
    clock.now = t("2025-09-22T09:20")
    case_id = service.submit(startup_form(code), CLERK, "qingbaijiang")
    detail = service.case(case_id)
    assert detail is not None and detail.summary.status == "completed"
    assert service.count_open() == 0
    assert [n["notice"] for n in detail.notices] == ["acceptance", "completion"]


def test_rating_only_a_closed_case_and_only_once(
    service: DeskService, engine: Engine, clock: Clock
) -> None:
    code = make_credit_code(RNG, "510113")
    case_id = service.submit(startup_form(code), CLERK, "qingbaijiang")
    with pytest.raises(CaseStateError, match="still open"):
        service.rate(case_id, 5, Actor("applicant-1", "applicant"))
    facts = {"market.established": "2025-09-22T10:00", "seal.seal_engraved": "2025-09-22T10:30"}
    clock.now = t("2025-09-22T10:40")
    service.apply_record(record(code, facts), topic="e", partition=0, offset=0, group="g")
    with pytest.raises(InvalidForm, match="rating"):
        service.rate(case_id, 9, Actor("applicant-1", "applicant"))
    service.rate(case_id, 4, Actor("applicant-1", "applicant"), "quick")
    with pytest.raises(CaseStateError, match="already rated"):
        service.rate(case_id, "bad", Actor("applicant-1", "applicant"))
    with pytest.raises(CaseStateError, match="no case"):
        service.rate("nope", 5, Actor("applicant-1", "applicant"))
    detail = service.case(case_id)
    assert detail is not None and detail.rating == {
        "verdict": "good",
        "score": 4,
        "comment": "quick",
    }
    with engine.connect() as conn:
        assert conn.execute(select(RatingRow.rated_by)).scalar_one() == "applicant-1"


def test_the_audit_chain_detects_alteration_and_removal(
    service: DeskService, engine: Engine, clock: Clock
) -> None:
    for i in range(4):
        clock.now += timedelta(seconds=1)
        service.audit(
            Actor(f"u{i}", "auditor"),
            "read_record",
            "enterprise",
            f"K{i}",
            {"fields": ["name"], "masked": i % 2 == 0, "n": i},
        )
    assert service.verify_audit() == []
    with engine.begin() as conn:
        conn.execute(text("UPDATE desk_audit_log SET actor = 'someone-else' WHERE id = 2"))
    assert service.verify_audit()[0].startswith("audit entry 2: hash does not match")
    with engine.begin() as conn:
        conn.execute(text("UPDATE desk_audit_log SET actor = 'u1' WHERE id = 2"))
        conn.execute(text("DELETE FROM desk_audit_log WHERE id = 3"))
    assert service.verify_audit()[0].startswith("audit entry 4: prev_hash does not match")


def test_the_queue_shows_office_time_left_and_overdue(service: DeskService, clock: Clock) -> None:
    first = service.submit(startup_form(), CLERK, "qingbaijiang")  # due 15:00
    clock.now = t("2025-09-22T11:00")
    second = service.submit(startup_form(), CLERK, "default")  # 3.5 h: due 16:00
    clock.now = t("2025-09-22T15:30")
    queue = service.open_cases()
    assert [c.case_id for c in queue] == [first, second]
    assert queue[0].overdue and queue[0].time_left_seconds == -30 * 60
    assert not queue[1].overdue and queue[1].time_left_seconds == 30 * 60
    assert [c.case_id for c in service.open_cases(case_type="transfer")] == []
    assert [c.case_id for c in service.open_cases(limit=1, offset=1)] == [second]
    counts = service.queue_counts()
    assert (counts["startup"].open, counts["startup"].overdue) == (2, 1)
