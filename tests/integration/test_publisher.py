"""Department publishers through the real broker: every event read back intact; bad input
refused with the field and the rule, nothing sent for it, the rest of the batch unaffected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from kafka import KafkaConsumer
from prometheus_client import CollectorRegistry

from exchange import codec
from exchange.errors import ValidationError
from exchange.schemas import default_registry
from exchange.settings import load_settings
from producers.metrics import PublisherMetrics
from producers.publish_cli import publish_command
from producers.publisher import ACK_SAMPLE, DepartmentPublisher
from producers.simulator import simulate, to_json_line

pytestmark = pytest.mark.integration


def _read_all(bootstrap: str, topics: list[str],
              event_ids: set[str]) -> dict[str, tuple[str, dict, dict]]:
    """The messages on ``topics`` that carry one of ``event_ids``, decoded, by event id:
    (event type, record, headers).

    The broker is shared by the whole session: other tests put undecodable messages and
    tombstones on the same department topics on purpose, so only this test's events count.
    """
    consumer = KafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    found = {}
    try:
        for m in consumer:
            header_id = dict(m.headers).get("event_id", b"").decode(errors="replace")
            if header_id not in event_ids:
                continue
            event_type, record = codec.decode(m.value)
            headers = {k: v.decode() for k, v in m.headers}
            assert m.key == record["envelope"]["key"].encode()
            found[record["envelope"]["event_id"]] = (event_type, record, headers)
    finally:
        consumer.close()
    return found


def test_every_published_event_is_read_back_intact(kafka_bootstrap: str) -> None:
    registry = default_registry()
    settings = load_settings(kafka_bootstrap=kafka_bootstrap)
    events = [e for e in simulate(40, 30, seed=901) if e.invalid_reason is None]
    metrics_registry = CollectorRegistry()
    with DepartmentPublisher(settings, metrics=PublisherMetrics.create(metrics_registry)) as pub:
        for e in events:
            pub.publish(e.event_type, e.record)
        report = pub.flush()
    assert report.sent == report.confirmed == len(events) and not report.failures
    sent = sum(metrics_registry.get_sample_value(
        "exchange_publisher_events_sent_total", {"department": d}) or 0
        for d in registry.departments())
    acked = sum(metrics_registry.get_sample_value(
        "exchange_publisher_ack_seconds_count", {"department": d}) or 0
        for d in registry.departments())
    assert sent == len(events)
    assert acked == len(range(0, len(events), ACK_SAMPLE))  # one send in ACK_SAMPLE is timed
    found = _read_all(kafka_bootstrap, registry.topics(),
                      {e.record["envelope"]["event_id"] for e in events})
    for e in events:
        event_id = e.record["envelope"]["event_id"]
        event_type, record, headers = found[event_id]
        assert (event_type, record) == (e.event_type, e.record)
        info = registry.event(e.event_type)
        assert headers["schema_fingerprint"] == info.fingerprint_hex
        assert headers["department"] == info.department and headers["event_id"] == event_id


def test_a_department_publisher_refuses_another_departments_event(kafka_bootstrap: str) -> None:
    settings = load_settings(kafka_bootstrap=kafka_bootstrap)
    market = next(e for e in simulate(3, 0, seed=5) if e.event_type.startswith("market."))
    with DepartmentPublisher(settings, "tax") as publisher, pytest.raises(ValidationError) as err:
        publisher.publish(market.event_type, market.record)
    assert "may not publish 'market' events" in str(err.value)


def test_publish_cli_reports_each_bad_line_and_publishes_the_rest(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXCHANGE_KAFKA_BOOTSTRAP", kafka_bootstrap)
    good = [e for e in simulate(5, 3, seed=77) if e.invalid_reason is None][:12]
    template = json.loads(to_json_line(good[0]))
    bad_lines = {
        "unknown department": {**template, "event_type": "police.seal_filed"},
        "unknown event type": {**template, "event_type": "tax.lottery_won"},
        "wrong type": {**template, "event": {**template["event"], "envelope": "not a record"}},
        "invalid identifier": json.loads(
            to_json_line(next(e for e in simulate(5, 3, seed=77, invalid_rate=1.0)
                              if e.invalid_reason
                              and e.invalid_reason.startswith("invalid_credit_code")))),
        "too large": {**template, "event": {**template["event"],
                                            "envelope": {**template["event"]["envelope"],
                                                         "trace_id": "x" * 600_000}}},
        "not JSON": None,
    }
    lines = [to_json_line(e) for e in good[:6]]
    for obj in bad_lines.values():
        lines.append("{oops" if obj is None else json.dumps(obj, ensure_ascii=False))
    lines += [to_json_line(e) for e in good[6:]]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = CliRunner().invoke(publish_command, [str(source)])

    assert result.exit_code == 1, result.output
    assert f"published {len(good)} events" in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert [int(line.split(":")[0].split()[1]) for line in errors] == list(range(7, 13))
    assert "police.seal_filed" in errors[0] and "tax.lottery_won" in errors[1]
    assert "credit_code" in errors[3] and "check" in errors[3]
    assert "exceeds the limit" in errors[4]
    assert "not JSON" in errors[5]
    found = _read_all(kafka_bootstrap, default_registry().topics(),
                      {e.record["envelope"]["event_id"] for e in good})
    assert all(e.record["envelope"]["event_id"] in found for e in good)
