"""The publisher's bulk callers without a broker: ``exchange publish``, ``exchange simulate
--publish`` and the fault traffic send in bursts (publish_many) what a loop of publish sent,
and report, count and skip bad events exactly as that loop did."""

from __future__ import annotations

import io
import json
from collections import Counter
from contextlib import ExitStack
from typing import Any

import pytest
from click.testing import CliRunner
from fake_producer import FakeProducer, event_ids
from prometheus_client import CollectorRegistry

from exchange.faults.traffic import Traffic, TrafficSize, publish_range
from exchange.schemas import default_registry
from exchange.settings import Settings, load_settings
from producers import publisher as publisher_module
from producers import simulator_cli
from producers.metrics import PublisherMetrics
from producers.publish_cli import publish_lines
from producers.publisher import DepartmentPublisher
from producers.simulator import simulate, to_json_line

pytestmark = pytest.mark.unit

REGISTRY = default_registry()


def _offline(producer: FakeProducer, department: str | None = None) -> DepartmentPublisher:
    return DepartmentPublisher(load_settings(), department, registry=REGISTRY,
                               producer=producer,  # type: ignore[arg-type]
                               ensure_topics=False,
                               metrics=PublisherMetrics.create(CollectorRegistry()))


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bursts of 5 events: every test below crosses several."""
    monkeypatch.setattr(publisher_module, "SEND_CHUNK", 5)


def test_publish_lines_reports_each_bad_line_and_publishes_the_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    producer = FakeProducer()

    def publisher(settings: Settings, department: str | None) -> DepartmentPublisher:
        return _offline(producer, department)

    monkeypatch.setattr(publisher_module, "DepartmentPublisher", publisher)
    good = [e for e in simulate(6, 4, seed=77) if e.invalid_reason is None][:16]
    broken = next(e for e in simulate(6, 4, seed=77, invalid_rate=1.0)
                  if e.invalid_reason and e.invalid_reason.startswith("invalid_credit_code"))
    template = json.loads(to_json_line(good[0]))
    lines = [to_json_line(e) for e in good[:6]]
    lines += ["{oops",  # line 7: not JSON
              json.dumps({**template, "event_type": "tax.lottery_won"}),  # 8: unknown type
              "",  # 9: blank, skipped silently
              to_json_line(broken)]  # 10: parses, refused by the publisher's validation
    lines += [to_json_line(e) for e in good[6:11]]
    lines.append(to_json_line(broken))  # 16: refused again, right after a full burst
    lines += [to_json_line(e) for e in good[11:]]
    err = io.StringIO()

    published, failed = publish_lines(io.StringIO("\n".join(lines) + "\n"), None, err)

    reported = err.getvalue().splitlines()
    assert [line.split(":")[0] for line in reported] == [
        "line 7", "line 8", "line 10", "line 16"]
    assert "not JSON" in reported[0] and "tax.lottery_won" in reported[1]
    assert "ValidationError" in reported[2] and "credit_code" in reported[2]
    assert reported[3] == reported[2].replace("line 10", "line 16")
    assert failed == 4
    assert published == Counter(e.event_type for e in good)
    assert event_ids(producer) == [e.event_id for e in good]
    assert producer.flushes >= 1  # closing the publisher waited for the acknowledgements


def test_publish_lines_as_a_department_refuses_the_other_departments_lines(
        monkeypatch: pytest.MonkeyPatch) -> None:
    producer = FakeProducer()
    monkeypatch.setattr(publisher_module, "DepartmentPublisher",
                        lambda settings, department: _offline(producer, department))
    events = [e for e in simulate(6, 4, seed=3) if e.invalid_reason is None][:20]
    err = io.StringIO()
    text = "".join(to_json_line(e) + "\n" for e in events)

    published, failed = publish_lines(io.StringIO(text), "tax", err)

    tax = [e for e in events if e.department == "tax"]
    others = [n for n, e in enumerate(events, start=1) if e.department != "tax"]
    assert tax and others
    assert published == Counter(e.event_type for e in tax)
    assert failed == len(others)
    assert [int(line.split(":")[0].split()[1]) for line in err.getvalue().splitlines()] == others
    assert "may not publish" in err.getvalue()
    assert event_ids(producer) == [e.event_id for e in tax]


def test_simulate_publish_counts_the_refused_and_publishes_the_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    producer = FakeProducer()

    def publisher(stack: ExitStack) -> Any:
        offline = _offline(producer)
        stack.callback(offline.close)
        return offline

    monkeypatch.setattr(simulator_cli, "_publisher", publisher)
    result = CliRunner().invoke(simulator_cli.simulate_command, [
        "--enterprises", "15", "--properties", "10", "--seed", "8", "--invalid", "0.2",
        "--duplicates", "0.1", "--shuffle", "--publish"])

    assert result.exit_code == 0, result.output
    events = list(simulate(15, 10, 8, shuffle=True, duplicate_rate=0.1, invalid_rate=0.2))
    valid = [e for e in events if e.invalid_reason is None]
    assert len(valid) < len(events)
    assert f"{len(valid)} published, {len(events) - len(valid)} refused" in result.output
    assert "refused a valid event" not in result.output
    assert f"{len(events)}/{len(events)}" in result.output  # the progress bar reached the end
    assert event_ids(producer) == [e.event_id for e in valid]


def test_publish_range_sends_valid_events_validated_and_broken_ones_raw() -> None:
    traffic = Traffic.generate(11, TrafficSize(40, 25), REGISTRY)
    indices = range(10, len(traffic.messages) - 10)
    publisher_producer, raw = FakeProducer(), FakeProducer()
    publish_range(_offline(publisher_producer), raw, traffic, indices)

    chosen = [traffic.messages[i] for i in indices]
    valid = [m for m in chosen if m.invalid_reason is None]
    broken = [m for m in chosen if m.invalid_reason is not None]
    assert broken and valid
    assert [(s["topic"], s["key"], s["value"]) for s in publisher_producer.sent] == [
        (m.topic, m.key, m.value) for m in valid]
    assert [dict(s["headers"]) for s in publisher_producer.sent] == [
        dict(m.headers) for m in valid]
    assert raw.sent == [{"topic": m.topic, "value": m.value, "key": m.key,
                         "headers": m.headers} for m in broken]
    assert publisher_producer.flushes == raw.flushes == 1
