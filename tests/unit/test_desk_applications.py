"""The desk's own application read back from the bus: one ``application_published`` entry,
recorded once, changing no case state (the consumer side is in
``tests/integration/test_desk_consumer.py``)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from consumers.desk.applications import APPLICATION_TOPIC, published_entries
from consumers.desk.domain import Case, CaseEvent, Kind, accept, advance, parse_form, restore
from consumers.desk.fanout import application_record
from consumers.desk.service import APPLICATION_EVENT, Actor, application_event
from exchange import codec
from exchange.identifiers import make_credit_code, make_resident_id
from exchange.schemas import default_registry

pytestmark = pytest.mark.unit

RNG = random.Random(12)
ACCEPTED = datetime(2025, 9, 22, 1, 30, tzinfo=UTC)  # Monday 09:30 in China
READ = ACCEPTED + timedelta(seconds=2)
FORM: dict[str, Any] = {
    "case_type": "startup",
    "credit_code": make_credit_code(RNG, "510113"),
    "legal_representative_name": "张三",
    "legal_representative_id": make_resident_id(RNG, "510113", date(1985, 3, 1)),
    "address": "成都市青白江区大同路1号",
    "bundle": ["seal", "tax_and_invoices"],
}


def accepted(case_id: str = "ST-20250922-0123456789ab") -> tuple[Case, list[CaseEvent]]:
    return accept(case_id, parse_form(FORM), ACCEPTED, profile="weinan")


def wire(case: Case) -> dict[str, Any]:
    """The application of ``case`` as the consumer decodes it from the desk's topic."""
    event = application_event(
        case.case_id, dict(FORM), case.form, "weinan", Actor("clerk-1", "clerk"), ACCEPTED
    )
    event_type, decoded = codec.decode(codec.encode(APPLICATION_EVENT, application_record(event)))
    assert event_type == APPLICATION_EVENT
    return decoded


def state(case: Case) -> tuple[Any, ...]:
    return (
        case.status,
        case.key,
        case.completed_at,
        {n: (s.status, s.started_at, s.done_at) for n, s in case.steps.items()},
        dict(case.items),
        {n: (d.warn_at, d.due_at, d.warned, d.fired, d.met) for n, d in case.deadlines.items()},
    )


def test_the_application_topic_is_the_registry_s() -> None:
    assert default_registry().topic(APPLICATION_EVENT) == APPLICATION_TOPIC


def test_an_application_read_back_is_noted_once_with_where_it_was_read() -> None:
    case, _ = accepted()
    application = wire(case)
    added = published_entries(
        case, application, topic=APPLICATION_TOPIC, partition=1, offset=41, now=READ
    )
    assert [e.event_id for e in added] == [f"{case.case_id}/application_published/{case.case_id}"]
    (entry,) = added
    assert entry.kind == Kind.APPLICATION_PUBLISHED
    assert entry.at == ACCEPTED and entry.recorded_at == READ  # the envelope's occurred_at
    assert dict(entry.data) == {
        "topic": APPLICATION_TOPIC,
        "partition": 1,
        "offset": 41,
        "event_id": application["envelope"]["event_id"],
    }
    assert case.timeline[-1] == entry
    again = published_entries(
        case, application, topic=APPLICATION_TOPIC, partition=0, offset=99, now=READ
    )
    assert again == []  # a second copy at another offset adds nothing


def test_the_entry_restores_and_changes_no_case_state() -> None:
    case, events = accepted()
    before = state(case)
    added = published_entries(
        case, wire(case), topic=APPLICATION_TOPIC, partition=0, offset=0, now=READ
    )
    assert state(case) == before
    stored = [CaseEvent.from_dict(e.to_dict()) for e in [*events, *added]]
    restored = restore(case.case_id, parse_form(FORM), stored)
    assert state(restored) == before
    assert restored.has(Kind.APPLICATION_PUBLISHED, case.case_id)
    # and the case still advances on the clock exactly as one without the entry
    plain = restore(case.case_id, parse_form(FORM), events)
    later = ACCEPTED + timedelta(days=3)
    assert [e.event_id for e in advance(restored, None, later)] == [
        e.event_id for e in advance(plain, None, later)
    ]
