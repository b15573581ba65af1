"""The join benchmark's pairing of events with outputs: first output wins, nothing dropped."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from exchange.schemas import default_registry
from exchange.worker import records_codec
from exchange.worker.bench_kit import batch_stats
from exchange.worker.bench_latency import Matcher, header_id, history_ids, percentile
from exchange.worker.harness import reference_of, wire_messages
from producers.simulator import simulate

pytestmark = pytest.mark.unit


def test_each_event_is_paired_with_its_first_output_and_the_rest_is_unmatched() -> None:
    matcher = Matcher()
    matcher.sent("a", 10.0)
    matcher.sent("b", 10.5)
    matcher.sent("c", 11.0)
    matcher.seen(["warm-up-id", "a"], 10.2)  # ids never sent here are not ours
    matcher.seen(["a", "b"], 11.0)  # "a" again: a later record, not its first
    assert matcher.latencies == pytest.approx({"a": 0.2, "b": 0.5})
    matcher.seen(["b", "a"], 12.0)
    assert matcher.in_send_order() == pytest.approx([0.2, 0.5])
    assert matcher.pending() == {"c"}
    assert matcher.unmatched() == ["c"]


def test_an_event_sent_twice_is_refused() -> None:
    matcher = Matcher()
    matcher.sent("a", 1.0)
    with pytest.raises(ValueError, match="sent twice"):
        matcher.sent("a", 2.0)


def test_a_record_is_matched_by_its_history_not_by_ids_it_merely_mentions() -> None:
    registry = default_registry()
    events = [e for e in simulate(20, 20, seed=3) if e.invalid_reason is None]
    ref = reference_of(wire_messages(events, registry), registry)
    linked = [r for r in ref.properties.values() if r.get("owner_enterprise")]
    assert linked, "the sample needs a property with an owner snapshot"
    record = linked[0]
    own = [h["event_id"] for h in record["history"]]
    owner_event = record["owner_enterprise"]["as_of"]["event_id"]  # an enterprise's event
    value = records_codec.encode(record)
    assert owner_event.encode() in value and owner_event not in own
    message = SimpleNamespace(value=value)
    assert history_ids(message, {owner_event}) == own  # decoded: it may hold a wanted id ...
    assert owner_event not in history_ids(message, {owner_event})  # ... but that one is not
    assert history_ids(message, {"absent"}) == []  # not even decoded


def test_a_passthrough_copy_carries_its_event_id_in_a_header() -> None:
    message = SimpleNamespace(headers=[("department", b"tax"), ("event_id", b"e-1")])
    assert header_id(message, set()) == ["e-1"]


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0


def test_batch_statistics_are_the_difference_of_two_scrapes() -> None:
    before = {"exchange_batch_messages_count:enterprise": 10.0,
              "exchange_batch_messages_sum:enterprise": 100.0,
              "exchange_merge_batch_seconds_count:enterprise": 10.0,
              "exchange_merge_batch_seconds_sum:enterprise": 0.5,
              "exchange_records_published_total:enterprise": 80.0}
    after = {"exchange_batch_messages_count:enterprise": 30.0,
             "exchange_batch_messages_sum:enterprise": 500.0,
             "exchange_merge_batch_seconds_count:enterprise": 30.0,
             "exchange_merge_batch_seconds_sum:enterprise": 1.5,
             "exchange_records_published_total:enterprise": 380.0}
    assert batch_stats(before, after) == {"enterprise": {
        "batches": 20, "mean_batch_messages": 20.0, "mean_fold_ms": 50.0,
        "records_published": 300}}
