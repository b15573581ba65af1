"""The worker's metrics: a dead letter moves its counter; scans count records and gaps."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from exchange.worker.metrics import WorkerMetrics, scan
from exchange.worker.processor import BatchResult, DeadLetter, Incoming

pytestmark = pytest.mark.unit


def test_a_dead_letter_moves_its_counter_and_applied_events_are_counted() -> None:
    registry = CollectorRegistry()
    metrics = WorkerMetrics.create(registry)
    result = BatchResult()
    result.applied["tax"] = 3
    result.dead_letters.append(DeadLetter(Incoming("dept.tax.enterprise", 1, 7, b"k", b"x"),
                                          "DecodeError", "not Avro"))
    metrics.record_batch("enterprise", 4, result)
    assert registry.get_sample_value(
        "exchange_dead_letters_total",
        {"topic": "dept.tax.enterprise", "reason": "DecodeError"}) == 1
    assert registry.get_sample_value(
        "exchange_events_applied_total", {"kind": "enterprise", "department": "tax"}) == 3


def test_a_scan_counts_records_conflicts_and_missing_facts_per_department() -> None:
    records = [
        {"conflicts": [{"attribute": "name"}],
         "completeness": {"tax": {"missing": ["tax.invoices_approved"]},
                          "market": {"missing": []}}},
        {"conflicts": [], "completeness": {"tax": {"missing": []}, "market": {"missing": []}}},
    ]
    stats = scan(records)
    assert (stats.records, stats.conflicts) == (2, 1)
    assert stats.incomplete == {"tax": 1, "market": 0}
    registry = CollectorRegistry()
    WorkerMetrics.create(registry).record_scan("enterprise", stats)
    assert registry.get_sample_value(
        "exchange_records_incomplete", {"kind": "enterprise", "department": "tax"}) == 1
    assert registry.get_sample_value("exchange_table_records", {"kind": "enterprise"}) == 2
