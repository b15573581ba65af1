"""Deadlines fire on their own, once, across restarts: SQLite and PostgreSQL (``desk_db_url``).

A Qingbaijiang start-up case accepted Monday 09:30 with no department answering: the
licence (2 h) warns at 11:06 and escalates at 11:30; the whole case (4 h) warns at 14:12 and
escalates at 15:00. With the licence present, the seal (2 h, deemed approval) is taken as
approved at its deadline and the case completes.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, select
from test_desk_store import CLERK, Clock, record, startup_form, t

from consumers.desk.domain import advance, parse_form
from consumers.desk.metrics import DeskMetrics
from consumers.desk.scheduler import DeadlineScheduler
from consumers.desk.service import DeskService
from consumers.desk.store.db import make_engine, make_session_factory
from consumers.desk.store.models import CaseRow, TimelineRow
from consumers.desk.store.progress import CaseProgress, advance_loaded

pytestmark = pytest.mark.integration

TICKS = ["11:00", "11:10", "11:10", "11:31", "12:30", "14:15", "15:01", "16:00"]


@pytest.fixture
def engine(desk_db_url: str) -> Iterator[Engine]:
    eng = make_engine(desk_db_url)
    yield eng
    eng.dispose()


def entries(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(TimelineRow.kind, TimelineRow.subject).order_by(TimelineRow.id))
        return [(k, s) for k, s in rows]


def fired(engine: Engine) -> Counter[tuple[str, str]]:
    return Counter(
        e for e in entries(engine) if e[0] in ("warning_raised", "escalated", "deemed_approved")
    )


def reference(form: dict[str, object], case_id: str, ticks: list[str]) -> Counter[tuple[str, str]]:
    """What the pure domain fires at the same ticks, without any database."""
    from consumers.desk.domain import accept

    case, events = accept(case_id, parse_form(form), t("2025-09-22T09:30"), profile="qingbaijiang")
    for at in ticks:
        events += advance(case, None, t(f"2025-09-22T{at}"))
    return Counter(
        (e.kind.value, e.subject)
        for e in events
        if e.kind.value in ("warning_raised", "escalated", "deemed_approved")
    )


def test_deadlines_fire_once_across_a_crash_and_a_restart(desk_db_url: str, engine: Engine) -> None:
    clock = Clock(t("2025-09-22T09:30"))
    form = startup_form()
    first = DeskService(make_session_factory(engine), clock=clock)
    case_id = first.submit(form, CLERK, "qingbaijiang")
    registry = CollectorRegistry()
    scheduler = DeadlineScheduler(first, DeskMetrics.create(registry))
    for at in TICKS[:3]:
        clock.now = t(f"2025-09-22T{at}")
        scheduler.tick()
    assert fired(engine) == Counter({("warning_raised", "step:licence"): 1})

    # a tick killed between its work and its commit: the escalation is computed, not stored
    clock.now = t("2025-09-22T11:31")
    with first.uow() as uow:
        loaded = uow.cases.load(case_id, lock=True)
        assert loaded is not None
        advance_loaded(uow, CaseProgress(loaded[0], [], loaded[1]), None, clock.now, first.config)
    engine.dispose()  # the process is gone

    restarted_engine = make_engine(desk_db_url)
    try:
        second = DeskService(make_session_factory(restarted_engine), clock=clock)
        restarted = DeadlineScheduler(second)
        for at in TICKS[3:]:
            clock.now = t(f"2025-09-22T{at}")
            restarted.tick()
            restarted.tick()  # a second tick at the same moment adds nothing
    finally:
        restarted_engine.dispose()
    assert fired(engine) == reference(form, case_id, TICKS)
    assert fired(engine) == Counter(
        {
            ("warning_raised", "step:licence"): 1,
            ("escalated", "step:licence"): 1,
            ("warning_raised", "case"): 1,
            ("escalated", "case"): 1,
        }
    )
    with engine.connect() as conn:
        assert conn.execute(select(CaseRow.next_deadline)).scalar_one() is None  # nothing left
    assert registry.get_sample_value("exchange_desk_cases_overdue", {"case_type": "startup"}) == 0


def test_a_deadline_missed_while_down_fires_at_the_first_tick(engine: Engine) -> None:
    clock = Clock(t("2025-09-22T09:30"))
    service = DeskService(make_session_factory(engine), clock=clock)
    code = startup_form()["credit_code"]
    case_id = service.submit(startup_form(code), CLERK, "qingbaijiang")
    service.apply_record(
        record(str(code), {"market.established": "2025-09-22T10:00"}),
        topic="e",
        partition=0,
        offset=0,
        group="g",
    )
    clock.now = t("2025-09-23T09:00")  # the desk was down over the seal's deadline (12:00)
    registry = CollectorRegistry()
    metrics = DeskMetrics.create(registry)
    DeadlineScheduler(
        DeskService(make_session_factory(engine), clock=clock, metrics=metrics), metrics
    ).tick()
    detail = service.case(case_id)
    assert detail is not None and detail.summary.status == "completed"
    seal = next(s for s in detail.steps if s["step"] == "seal")
    assert seal["state"] == "deemed_approved" and seal["source"]["deemed_approval"]
    assert seal["source"]["occurred_at"] == t("2025-09-22T12:00").isoformat()
    assert (
        registry.get_sample_value("exchange_desk_deemed_approvals_total", {"case_type": "startup"})
        == 1
    )
    # completed at the deemed deadline, 12:00: 2.5 h of office time after 09:30
    assert (
        registry.get_sample_value(
            "exchange_desk_case_duration_seconds_sum", {"case_type": "startup"}
        )
        == 2.5 * 3600
    )


def test_two_schedulers_at_once_fire_each_deadline_once(desk_db_url: str, engine: Engine) -> None:
    clock = Clock(t("2025-09-22T09:30"))
    service = DeskService(make_session_factory(engine), clock=clock)
    for _ in range(6):
        service.submit(startup_form(), CLERK, "qingbaijiang")
    clock.now = t("2025-09-22T15:01")
    engines = [make_engine(desk_db_url) for _ in range(2)]
    errors: list[BaseException] = []

    def run(eng: Engine) -> None:
        try:
            DeadlineScheduler(DeskService(make_session_factory(eng), clock=clock)).tick()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    for eng in engines:
        eng.dispose()
    assert errors == []
    counts = fired(engine)
    # at 15:01 everything is past due: escalations only, no late warnings, each once
    assert counts == Counter({("escalated", "step:licence"): 6, ("escalated", "case"): 6})
