"""The desk consumer against the real broker and both databases, with a kill -9 restart.

Unified records are built with the merge core over department events, encoded with the
worker's codec and produced to fresh topics. A first consumer applies part of one poll and
dies without committing anything to Kafka; a second one starts from the offsets stored in
the desk database. Every case's timeline must equal the pure domain's over the same records.
The desk's own applications, published through the fan-out publisher, come back as one
``application_published`` entry per case, however often they are redelivered.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from consumers.desk.applications import APPLICATION_TOPIC
from consumers.desk.consumer import TOPICS, DeskConsumer
from consumers.desk.domain import accept, advance, parse_form
from consumers.desk.fanout import ApplicationPublisher
from consumers.desk.metrics import DeskMetrics
from consumers.desk.service import DeskService, application_event
from consumers.desk.store.db import make_engine, make_session_factory
from exchange import codec
from exchange.merge import merge
from exchange.settings import load_settings
from exchange.topics import TopicSpec, ensure_topics
from exchange.worker.records_codec import encode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))
from test_desk_store import CLERK, Clock, startup_form  # noqa: E402
from test_merge_samples import T0, ev  # noqa: E402

pytestmark = pytest.mark.integration

STEPS = [
    ["market.established"],
    ["seal.seal_engraved"],
    ["tax.taxpayer_registered", "tax.invoices_approved"],
]
DEADLINE = 60.0


def codes(n: int) -> list[str]:
    """``n`` valid credit codes."""
    import random

    from exchange.identifiers import make_credit_code

    rng = random.Random(7)
    return [make_credit_code(rng, "510113") for _ in range(n)]


def records_for(key: str) -> list[dict[str, Any]]:
    """The successive unified records of one enterprise as its departments answer."""
    out: list[dict[str, Any]] = []
    record = None
    minute = 0
    for step in STEPS:
        for event_type in step:
            minute += 5
            record = merge(record, ev(event_type, key, minute, event_id=f"{key}-{event_type}"))
        out.append(dict(record))  # type: ignore[arg-type]
    return out


@pytest.fixture
def engine(desk_db_url: str) -> Iterator[Engine]:
    eng = make_engine(desk_db_url)
    yield eng
    eng.dispose()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    probe = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(probe.partitions_for_topic(topic) or ())]
        return {tp.partition: off for tp, off in probe.end_offsets(parts).items()}
    finally:
        probe.close()


def test_consumer_survives_a_kill_and_matches_the_pure_domain(
    kafka_bootstrap: str, engine: Engine
) -> None:
    topic = f"test.desk.enterprise.{uuid.uuid4().hex[:8]}"
    ensure_topics(
        {"bootstrap_servers": [kafka_bootstrap]},
        [TopicSpec(topic, compacted=True)],
        partitions=2,
        replication=1,
    )
    clock = Clock(T0 - timedelta(minutes=30))
    registry = CollectorRegistry()
    metrics = DeskMetrics.create(registry)
    service = DeskService(make_session_factory(engine), clock=clock, metrics=metrics)
    keys = codes(5)
    forms = {k: startup_form(k, bundle=["seal", "tax_and_invoices"]) for k in keys[:4]}
    case_ids = {k: service.submit(f, CLERK, "weinan") for k, f in forms.items()}
    clock.now = T0 + timedelta(hours=1)

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    sent: dict[str, list[dict[str, Any]]] = {k: records_for(k) for k in keys}
    for round_ in range(len(STEPS)):
        for key in keys:
            producer.send(topic, key=key.encode(), value=encode(sent[key][round_]))
    producer.flush()
    producer.close()
    ends = end_offsets(kafka_bootstrap, topic)
    assert sum(ends.values()) == len(keys) * len(STEPS)

    group = f"desk-{uuid.uuid4().hex[:8]}"
    options = {"bootstrap_servers": [kafka_bootstrap]}
    first = DeskConsumer(
        service, options, group=group, topics=[topic], metrics=metrics, max_records=4
    )
    try:
        deadline = time.monotonic() + DEADLINE
        batch: dict[Any, Any] = {}
        while not batch and time.monotonic() < deadline:
            batch = first.consumer.poll(timeout_ms=500, max_records=4)
        messages = [m for ms in batch.values() for m in ms]
        assert messages, "no message within the deadline"
        for m in messages[:3]:  # part of the poll, then the process dies
            first.handle(m.topic, m.partition, m.offset, m.value)
    finally:
        first.close()  # no commit to Kafka: like kill -9 after the database commits

    second = DeskConsumer(service, options, group=group, topics=[topic], metrics=metrics)
    try:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            second.poll_once(timeout_ms=500)
            with service.uow() as uow:
                stored = uow.offsets.all(group)
            if all(stored.get((topic, p)) == end for p, end in ends.items()):
                break
        else:
            pytest.fail(f"consumer did not reach the end offsets {ends} in time: {stored}")
    finally:
        second.close()

    # every record again at new offsets (another group replaying the topic) adds nothing
    replayed = [rec for key in keys for rec in sent[key]]
    for n, rec in enumerate(replayed):
        assert service.apply_record(rec, topic=topic, partition=0, offset=n, group="replay") == 0

    for key, case_id in case_ids.items():
        detail = service.case(case_id)
        assert detail is not None
        case, expected = accept(
            case_id, parse_form(forms[key]), T0 - timedelta(minutes=30), profile="weinan"
        )
        for rec in sent[key]:
            expected += advance(case, rec, T0 + timedelta(hours=1))
        assert [e["event_id"] for e in detail.timeline] == [e.event_id for e in expected]
        assert detail.summary.status == "completed"
    assert service.record("enterprise", keys[4]) == sent[keys[4]][-1]  # kept for later
    consumed = registry.get_sample_value(
        "exchange_desk_records_consumed_total", {"kind": "enterprise"}
    )
    assert consumed is not None and consumed >= len(keys) * len(STEPS)


def message_at(bootstrap: str, topic: str, partition: int, offset: int) -> Any:
    """The message at ``topic[partition]@offset``."""
    probe = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, partition)
        probe.assign([tp])
        probe.seek(tp, offset)
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            for message in probe.poll(timeout_ms=500, max_records=1).get(tp, []):
                return message
        raise AssertionError(f"nothing at {topic}[{partition}]@{offset}")
    finally:
        probe.close()


def consume_to(desk: DeskConsumer, ends: dict[int, int], *, stored: bool) -> int:
    """Poll until every partition of the application topic reached ``ends``: in the desk
    database's stored offsets (``stored``), or in the consumer's own position. Returns the
    number of messages handled."""
    handled = 0
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        handled += desk.poll_once(timeout_ms=500)
        if stored:
            with desk.service.uow() as uow:
                done = uow.offsets.all(desk.group)
            at = {p: o for (t, p), o in done.items() if t == APPLICATION_TOPIC}
        else:
            at = {tp.partition: desk.consumer.position(tp) for tp in desk.consumer.assignment()}
        if all(at.get(p, 0) >= end for p, end in ends.items()):
            return handled
    pytest.fail(f"desk consumer did not reach {ends} in time: {at}")


def published(service: DeskService, case_id: str) -> list[dict[str, Any]]:
    detail = service.case(case_id)
    assert detail is not None
    return [e for e in detail.timeline if e["kind"] == "application_published"]


def test_applications_come_back_once_on_their_case_timeline(
    kafka_bootstrap: str, engine: Engine, tmp_path: Path
) -> None:
    assert APPLICATION_TOPIC in TOPICS  # ``exchange desk`` reads its applications by default
    settings = load_settings(kafka_bootstrap=kafka_bootstrap, data_dir=tmp_path)
    clock = Clock(T0)
    registry = CollectorRegistry()
    metrics = DeskMetrics.create(registry)
    sink = ApplicationPublisher(settings)
    service = DeskService(
        make_session_factory(engine), clock=clock, application_sink=sink, metrics=metrics
    )
    group = f"desk-{uuid.uuid4().hex[:8]}"
    options = {"bootstrap_servers": [kafka_bootstrap]}
    first = second = None
    try:
        forms = [startup_form(k) for k in codes(2)]
        case_ids = [service.submit(f, CLERK, "weinan") for f in forms]
        # another desk's case: its application is on the same topic, not in this database
        form = startup_form(codes(3)[2])
        foreign = f"ST-{T0:%Y%m%d}-{uuid.uuid4().hex[:12]}"
        sink(application_event(foreign, form, parse_form(form), "weinan", CLERK, T0))
        assert (sink.published, sink.failed) == (3, 0)
        before = {c: len(service.case(c).timeline) for c in case_ids}  # type: ignore[union-attr]
        ends = end_offsets(kafka_bootstrap, APPLICATION_TOPIC)
        clock.now = T0 + timedelta(minutes=1)

        first = DeskConsumer(
            service, options, group=group, topics=[APPLICATION_TOPIC], metrics=metrics
        )
        consume_to(first, ends, stored=True)  # everything from the beginning, others' too
        for case_id in case_ids:
            detail = service.case(case_id)
            assert detail is not None and len(detail.timeline) == before[case_id] + 1
            (entry,) = published(service, case_id)
            assert entry["event_id"] == f"{case_id}/application_published/{case_id}"
            assert (entry["subject"], entry["at"]) == (case_id, T0.isoformat())
            data = entry["data"]
            message = message_at(kafka_bootstrap, data["topic"], data["partition"], data["offset"])
            assert (data["topic"], message.key) == (APPLICATION_TOPIC, case_id.encode())
            _, application = codec.decode(message.value)
            assert data["event_id"] == application["envelope"]["event_id"]
        assert service.case(foreign) is None  # another desk's application: only the offset

        # redelivery: the same consumer sought back to the beginning adds nothing
        with service.uow() as uow:
            offsets = uow.offsets.all(group)
        for tp in first.consumer.assignment():
            first.consumer.seek_to_beginning(tp)
        assert consume_to(first, ends, stored=False) >= len(case_ids) + 1
        with service.uow() as uow:
            assert uow.offsets.all(group) == offsets
        assert [len(published(service, c)) for c in case_ids] == [1] * len(case_ids)
        first.close()
        first = None

        # a second copy of one application (a new offset) and a restart on the stored offsets
        sink(application_event(case_ids[0], forms[0], parse_form(forms[0]), "weinan", CLERK, T0))
        later = end_offsets(kafka_bootstrap, APPLICATION_TOPIC)
        second = DeskConsumer(
            service, options, group=group, topics=[APPLICATION_TOPIC], metrics=metrics
        )
        consume_to(second, later, stored=True)
    finally:
        for desk in (first, second):
            if desk is not None:
                desk.close()
        sink.close()

    with service.uow() as uow:
        after = uow.offsets.all(group)
    assert all(after[k] >= done for k, done in offsets.items())
    assert sum(after.values()) == sum(offsets.values()) + 1  # the copy: one offset, no entry
    for case_id in case_ids:
        assert len(published(service, case_id)) == 1
        assert len(service.case(case_id).timeline) == before[case_id] + 1  # type: ignore[union-attr]
    consumed = registry.get_sample_value(
        "exchange_desk_records_consumed_total", {"kind": "application"}
    )
    assert consumed is not None and consumed >= 3
