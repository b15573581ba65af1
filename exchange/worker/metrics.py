"""Metrics of the join worker, built from an injected Prometheus registry.

Units in names, low-cardinality labels only (kind, department, topic, error class): never a
credit code, unit number or person.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from exchange.worker.processor import BatchResult


@dataclass(frozen=True)
class TableStats:
    """What a scan of one table found: records, open conflicts, missing facts by department."""

    records: int
    conflicts: int
    incomplete: Mapping[str, int]


def scan(records: Iterable[Mapping[str, Any]]) -> TableStats:
    """Count records, conflicting attributes and records missing facts, per department."""
    total = conflicts = 0
    incomplete: Tally[str] = Tally()
    for record in records:
        total += 1
        conflicts += len(record.get("conflicts", ()))
        for department, state in record.get("completeness", {}).items():
            incomplete[department] += 1 if state.get("missing") else 0
    return TableStats(total, conflicts, dict(incomplete))


@dataclass(frozen=True)
class WorkerMetrics:
    """Every metric the worker exports."""

    events_in: Counter
    records_out: Counter
    dead_letters: Counter
    merge_seconds: Histogram
    confirm_seconds: Histogram
    batch_size: Histogram
    table_records: Gauge
    conflicts_open: Gauge
    records_incomplete: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry = REGISTRY) -> WorkerMetrics:
        """Register the worker's metrics in ``registry``."""
        return cls(
            events_in=Counter("exchange_events_applied_total",
                              "Department events folded into unified records.",
                              ["kind", "department"], registry=registry),
            records_out=Counter("exchange_records_published_total",
                                "Unified records published to the output topics.",
                                ["kind"], registry=registry),
            dead_letters=Counter("exchange_dead_letters_total",
                                 "Messages sent to the dead-letter topic, by reason.",
                                 ["topic", "reason"], registry=registry),
            merge_seconds=Histogram("exchange_merge_batch_seconds",
                                    "Time to fold one batch of one partition.", ["kind"],
                                    registry=registry,
                                    buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25,
                                             .5, 1)),
            confirm_seconds=Histogram(
                "exchange_batch_confirm_seconds",
                "Wait for the broker to confirm one batch's sends: stage 'outputs' (records, "
                "join messages, dead letters), then 'changelog' (the table's).",
                ["kind", "stage"], registry=registry,
                buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10)),
            batch_size=Histogram("exchange_batch_messages",
                                 "Messages per committed window, of one partition.",
                                 ["kind"], registry=registry,
                                 buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000)),
            table_records=Gauge("exchange_table_records",
                                "Unified records in this worker's table partitions (last scan).",
                                ["kind"], registry=registry),
            conflicts_open=Gauge("exchange_conflicts_open",
                                 "Attributes two departments report differently (last scan).",
                                 ["kind"], registry=registry),
            records_incomplete=Gauge("exchange_records_incomplete",
                                     "Records still missing a department's expected facts "
                                     "(last scan).", ["kind", "department"], registry=registry),
        )

    def record_batch(self, kind: str, size: int, result: BatchResult) -> None:
        """Count what one batch did."""
        self.batch_size.labels(kind).observe(size)
        for department, n in result.applied.items():
            self.events_in.labels(kind, department).inc(n)
        self.records_out.labels(kind).inc(len(result.records))
        for dl in result.dead_letters:
            self.dead_letters.labels(dl.incoming.topic, dl.error_class).inc()

    def record_scan(self, kind: str, stats: TableStats) -> None:
        """Set the gauges from a scan of one table."""
        self.table_records.labels(kind).set(stats.records)
        self.conflicts_open.labels(kind).set(stats.conflicts)
        for department, n in stats.incomplete.items():
            self.records_incomplete.labels(kind, department).set(n)
