"""Collect once, fan out, on the real broker: the desk publishes the one form once, the
department systems answer it on their own topics, and the case links to the new credit code."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer

from consumers.desk.fanout import ApplicationPublisher
from consumers.desk.service import Actor, DeskService
from consumers.desk.store.db import make_engine, make_session_factory
from consumers.desk.store.migrate import upgrade
from exchange import codec
from exchange.events import from_avro
from exchange.identifiers import validate_credit_code
from exchange.merge import merge
from exchange.schemas import default_registry
from exchange.settings import Settings, load_settings
from producers.departments import DepartmentSystems
from producers.responders.config import ResponderConfig

pytestmark = pytest.mark.integration

REP_ID = "510104199005171231"
BUNDLE = ["seal", "tax_and_invoices", "social_security", "housing_fund", "bank_account"]
EXPECTED = ["bank.account_opened", "market.established", "seal.seal_engraved",
            "social.employer_registered", "social.housing_fund_opened",
            "tax.invoices_approved", "tax.taxpayer_registered"]


def read_topics(settings: Settings, topics: list[str], trace_id: str,
                timeout: float = 20.0) -> list[Any]:
    """Every message of ``topics`` whose trace_id header is ``trace_id`` (polled to the end)."""
    consumer = KafkaConsumer(*topics, **settings.kafka_client_options(),
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=3000)
    found = []
    deadline = time.monotonic() + timeout
    try:
        for message in consumer:
            if dict(message.headers).get("trace_id", b"").decode() == trace_id:
                found.append(message)
            if time.monotonic() > deadline:
                break
    finally:
        consumer.close()
    return found


@pytest.fixture()
def settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    return load_settings(kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path)


def test_one_application_fans_out_once_and_the_case_links(settings: Settings,
                                                          tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    upgrade(url)
    sink = ApplicationPublisher(settings)
    service = DeskService(make_session_factory(make_engine(url)), application_sink=sink)
    systems = DepartmentSystems(settings, ResponderConfig(seed=7, delay_seconds=0.2),
                                group=f"departments-{uuid.uuid4().hex[:8]}")
    name = f"成都扇出{uuid.uuid4().hex[:6]}科技有限公司"
    try:
        case_id = service.submit(
            {"case_type": "startup", "pending_name": name, "legal_representative_name": "张三",
             "legal_representative_id": REP_ID, "address": "四川省成都市武侯区人民南路1号",
             "bundle": BUNDLE}, Actor("window-01", "clerk"))
        assert sink.published == 1 and sink.failed == 0

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            systems.poll_once(timeout_ms=200)
            if systems.answered(case_id):
                break
        else:
            pytest.fail(f"the departments did not answer case {case_id} within 60 s")
    finally:
        systems.close()
        sink.close()

    registry = default_registry(settings)
    applications = read_topics(settings, ["dept.desk.application"], case_id)
    assert len(applications) == 1  # published once, keyed by the case id, not by a person
    assert applications[0].key == case_id.encode()
    assert REP_ID.encode() not in applications[0].key
    event_type, application = codec.decode(applications[0].value, registry=registry)
    assert event_type == "desk.application_submitted"
    assert (application["pending_name"], application["legal_representative_id"]) == (name, REP_ID)
    assert sorted(application["bundle"]) == sorted(b.upper() for b in BUNDLE)

    answers = read_topics(settings, registry.topics("enterprise"), case_id)
    decoded = [codec.decode(m.value, registry=registry) for m in answers]
    assert Counter(t for t, _ in decoded) == Counter(EXPECTED)  # each exactly once
    for message, (event_type, _) in zip(answers, decoded, strict=True):
        assert message.topic == registry.topic(event_type)  # each on its own department topic
        assert dict(message.headers)["department"] == event_type.split(".")[0].encode()
    licence = next(r for t, r in decoded if t == "market.established")
    code = validate_credit_code(licence["credit_code"], strict=True)
    assert licence["name"] == name and licence["legal_representative_id"] == REP_ID
    assert {m.key for m in answers} == {code.encode()}

    # the desk sees the joined record (folded by the real merge core, as the worker does):
    # the case is found by its pending name, linked to the new code, and completes
    record = None
    for event_type, body in sorted(decoded, key=lambda d: d[1]["envelope"]["occurred_at"]):
        record = merge(record, from_avro(event_type, body))
    assert record is not None
    service.apply_record(record, topic="exchange.enterprise.v1", partition=0, offset=0,
                         group="fanout-test")
    detail = service.case(case_id)
    assert detail is not None
    assert detail.summary.subject == code
    assert detail.summary.status == "completed", detail.steps
    assert detail.summary.steps_done == detail.summary.steps_total == 1 + len(BUNDLE)


def test_redelivered_application_is_not_answered_twice(settings: Settings) -> None:
    """The same application read twice (a redelivery) plans its answers once."""
    registry = default_registry(settings)
    record = {
        "envelope": {"event_id": str(uuid.uuid4()), "department": "DESK",
                     "occurred_at": datetime.now(UTC), "key": "DE-20240301-0123456789ab",
                     "trace_id": "DE-20240301-0123456789ab"},
        "case_id": "DE-20240301-0123456789ab", "case_type": "DEREGISTRATION",
        "profile": "ordinary", "submitted_at": datetime.now(UTC), "submitted_by": "window-01",
        "credit_code": "91510104MANPWNU0XR", "pending_name": None,
        "legal_representative_name": None, "legal_representative_id": None, "address": None,
        "bundle": [], "unit_number": None, "registration_type": None, "applicant_name": None,
        "contract_signed_on": None, "simplified": False, "missing_items": [],
    }
    data = codec.encode("desk.application_submitted", record, registry=registry)
    systems = DepartmentSystems(settings, ResponderConfig(delay_seconds=0.0),
                                group=f"departments-{uuid.uuid4().hex[:8]}")
    try:
        systems.handle(("dept.desk.application", 0), 10_000, data)
        systems.handle(("dept.desk.application", 0), 10_001, data)
        assert systems.pending() == 1
        first = systems.fire_due()
        second = systems.fire_due()  # market waits for clearance and closure
        assert (first, second) == (2, 1) and systems.pending() == 0
        systems.handle(("dept.desk.application", 0), 10_002, data)
        assert systems.pending() == 0 and systems.fire_due() == 0
        assert systems.offsets.committable()[("dept.desk.application", 0)] == 10_003
    finally:
        systems.close()
