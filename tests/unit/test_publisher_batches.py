"""The department publisher without a broker: what it hands the producer, and what it refuses."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fake_producer import FakeProducer, event_ids
from prometheus_client import CollectorRegistry
from schema_samples import sample_record

from exchange.codec import decode
from exchange.errors import ExchangeError, UnknownSchema, ValidationError
from exchange.identifiers import corrupt_credit_code_check
from exchange.schemas import default_registry
from exchange.settings import load_settings
from producers import publisher as publisher_module
from producers.metrics import PublisherMetrics
from producers.publisher import DepartmentPublisher, headers_for
from producers.unchecked import wire_headers

pytestmark = pytest.mark.unit

REGISTRY = default_registry()


def _publisher(department: str | None = None) -> tuple[DepartmentPublisher, FakeProducer,
                                                        CollectorRegistry]:
    producer, metrics = FakeProducer(), CollectorRegistry()
    publisher = DepartmentPublisher(load_settings(), department, registry=REGISTRY,
                                    producer=producer,  # type: ignore[arg-type]
                                    ensure_topics=False, metrics=PublisherMetrics.create(metrics))
    return publisher, producer, metrics


def _events(n: int) -> list[tuple[str, dict[str, Any]]]:
    types = REGISTRY.event_types()
    return [(types[i % len(types)], sample_record(REGISTRY.event(types[i % len(types)]), i))
            for i in range(n)]


def _invalid(event_type: str, seed: int = 0) -> dict[str, Any]:
    record = sample_record(REGISTRY.event(event_type), seed)
    record["credit_code"] = record["envelope"]["key"] = corrupt_credit_code_check(
        record["credit_code"])
    return record


def test_headers_name_the_event_its_source_and_its_schema() -> None:
    event = REGISTRY.event("tax.clearance_issued")
    envelope = sample_record(event)["envelope"]
    headers = dict(headers_for(event, envelope))
    assert headers == {
        "event_id": envelope["event_id"].encode(), "department": b"tax",
        "event_type": b"tax.clearance_issued",
        "schema_fingerprint": event.fingerprint_hex.encode(),
        "trace_id": envelope["trace_id"].encode(),
    }
    untraced = dict(headers_for(event, {**envelope, "trace_id": ""}))
    assert len(untraced["trace_id"]) == 32  # a new trace id when the event has none


def test_careless_producers_set_the_same_headers() -> None:
    event_type, record = _events(1)[0]
    assert wire_headers(REGISTRY, event_type, record) == headers_for(
        REGISTRY.event(event_type), record["envelope"])
    assert dict(wire_headers(REGISTRY, event_type, {}))["event_id"] == b""


def test_publish_sends_the_encoded_event_keyed_and_with_headers() -> None:
    publisher, producer, metrics = _publisher()
    event_type, record = _events(1)[0]
    original = copy.deepcopy(record)
    assert publisher.publish(event_type, record) == record["envelope"]["event_id"]
    (message,) = producer.sent
    event = REGISTRY.event(event_type)
    assert message["topic"] == event.topic
    assert message["key"] == record["envelope"]["key"].encode()
    assert decode(message["value"], registry=REGISTRY) == (event_type, original)
    assert message["headers"] == headers_for(event, record["envelope"])
    assert publisher.flush().confirmed == 1
    labels = {"department": event.department}
    assert metrics.get_sample_value("exchange_publisher_events_sent_total", labels) == 1
    assert metrics.get_sample_value("exchange_publisher_ack_seconds_count", labels) == 1


def test_one_send_in_ack_sample_is_timed_starting_with_the_first_after_each_flush(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(publisher_module, "ACK_SAMPLE", 4)
    publisher, producer, metrics = _publisher()
    publisher.publish_many(_events(10))  # sends 0, 4 and 8 are timed
    timed = [f for f in producer.futures if f.callbacks]
    assert [producer.futures.index(f) for f in timed] == [0, 4, 8]
    assert publisher.flush().confirmed == 10
    publisher.publish_many(_events(3))  # the count restarts after a flush: send 0 is timed
    assert [bool(f.callbacks) for f in producer.futures] == [True, False, False]
    publisher.flush()
    timed_total = sum(metrics.get_sample_value("exchange_publisher_ack_seconds_count",
                                               {"department": d}) or 0
                      for d in REGISTRY.departments())
    assert timed_total == 4


def test_an_invalid_event_is_refused_with_field_and_rule_and_not_sent() -> None:
    publisher, producer, metrics = _publisher()
    with pytest.raises(ValidationError) as info:
        publisher.publish("tax.clearance_issued", _invalid("tax.clearance_issued"))
    assert info.value.field == "credit_code" and "check" in info.value.rule
    assert producer.sent == [] and publisher.report.sent == 0
    assert metrics.get_sample_value("exchange_publisher_events_refused_total",
                                    {"department": "tax"}) == 1


def test_a_department_publisher_refuses_another_departments_events() -> None:
    publisher, producer, _ = _publisher("tax")
    record = sample_record(REGISTRY.event("market.established"))
    with pytest.raises(ValidationError, match="may not publish 'market' events") as info:
        publisher.publish("market.established", record)
    assert info.value.field == "envelope.department"
    assert producer.sent == []


def test_publish_many_sends_the_same_messages_as_publish(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publisher_module, "SEND_CHUNK", 7)  # several chunks and a remainder
    events = _events(40)
    one, one_producer, _ = _publisher()
    for event_type, record in events:
        one.publish(event_type, record)
    many, many_producer, _ = _publisher()
    ids = many.publish_many(iter(events))
    assert ids == [record["envelope"]["event_id"] for _, record in events]
    assert many_producer.sent == one_producer.sent
    assert many.flush().confirmed == 40


@pytest.mark.parametrize("bad_at", [0, 9, 15])
def test_publish_many_stops_at_the_first_invalid_event(monkeypatch: pytest.MonkeyPatch,
                                                       bad_at: int) -> None:
    """Like a loop of publish: the events before it are sent, it and the rest are not."""
    monkeypatch.setattr(publisher_module, "SEND_CHUNK", 7)
    events = _events(20)
    events[bad_at] = ("tax.clearance_issued", _invalid("tax.clearance_issued", bad_at))
    publisher, producer, _ = _publisher()
    with pytest.raises(ValidationError) as info:
        publisher.publish_many(events)
    assert info.value.field == "credit_code"
    assert f"event at index {bad_at} of the batch" in " ".join(info.value.__notes__)
    assert event_ids(producer) == [record["envelope"]["event_id"] for _, record in events[:bad_at]]
    assert publisher.flush().confirmed == bad_at


def test_publish_many_refuses_an_unknown_event_type_after_sending_the_ones_before() -> None:
    publisher, producer, _ = _publisher()
    events: list[tuple[str, Any]] = [*_events(3), ("tax.lottery_won", {})]
    with pytest.raises(UnknownSchema):
        publisher.publish_many(events)
    assert len(producer.sent) == 3


def test_publish_many_with_refused_skips_each_invalid_event_as_a_publish_loop_would(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publisher_module, "SEND_CHUNK", 7)
    events: list[tuple[str, Any]] = _events(30)
    for bad_at in (0, 9, 15, 29):  # first, inside a chunk, right after a full one, last
        events[bad_at] = ("tax.clearance_issued", _invalid("tax.clearance_issued", bad_at))
    events[20] = ("tax.lottery_won", events[20][1])
    loop, loop_producer, loop_metrics = _publisher()
    loop_refused = []
    for index, (event_type, record) in enumerate(events):
        try:
            loop.publish(event_type, record)
        except ExchangeError as exc:
            loop_refused.append((index, type(exc), str(exc)))
    many, many_producer, many_metrics = _publisher()
    refused: list[tuple[int, type, str]] = []
    ids = many.publish_many(events, lambda i, exc: refused.append((i, type(exc), str(exc))))
    assert [i for i, *_ in refused] == [0, 9, 15, 20, 29]
    assert refused == loop_refused
    assert refused[3][1] is UnknownSchema
    assert many_producer.sent == loop_producer.sent
    assert ids == event_ids(many_producer) and len(ids) == 25
    assert many.flush().confirmed == 25
    for metrics in (many_metrics, loop_metrics):
        assert metrics.get_sample_value("exchange_publisher_events_refused_total",
                                        {"department": "tax"}) == 4


def test_a_refused_callback_that_raises_stops_the_batch_there(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publisher_module, "SEND_CHUNK", 7)
    events = _events(20)
    events[3] = ("tax.clearance_issued", _invalid("tax.clearance_issued", 3))
    events[12] = ("tax.clearance_issued", _invalid("tax.clearance_issued", 12))
    seen: list[int] = []

    def refused(index: int, exc: ExchangeError) -> None:
        seen.append(index)
        if index == 12:
            raise exc

    publisher, producer, _ = _publisher()
    with pytest.raises(ValidationError) as info:
        publisher.publish_many(events, refused)
    assert seen == [3, 12]
    assert "event at index 12 of the batch: 11 events before it were sent" in " ".join(
        info.value.__notes__)
    assert event_ids(producer) == [r["envelope"]["event_id"] for i, (_, r) in
                                   enumerate(events[:12]) if i != 3]
