"""Prometheus metrics of the desk, built on an injected registry (tests use their own).

Labels stay low-cardinality: ``case_type`` (startup, transfer, deregistration) and ``kind``
(enterprise, property). Durations are office seconds (working time, the unit of every time
limit), bucketed around the limits of the domain notes: 15 min (immediate), 50 min, 1 h,
2 h, 0.5 working day (3.5 h), 4 h, 1, 2 and 3 working days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CASE_TYPES = ("startup", "transfer", "deregistration")
HOUR = 3600.0
WORKING_DAY = 7 * HOUR
DURATION_BUCKETS = (
    60.0,
    15 * 60.0,
    50 * 60.0,
    HOUR,
    2 * HOUR,
    0.5 * WORKING_DAY,
    4 * HOUR,
    WORKING_DAY,
    2 * WORKING_DAY,
    3 * WORKING_DAY,
    5 * WORKING_DAY,
    10 * WORKING_DAY,
)


@dataclass(frozen=True)
class QueueCounts:
    """Open, overdue and near-deadline cases of one case type."""

    open: int = 0
    overdue: int = 0
    near_deadline: int = 0


@dataclass(frozen=True)
class DeskMetrics:
    """The desk's metrics; build with :meth:`create`."""

    cases_open: Gauge
    cases_overdue: Gauge
    cases_near_deadline: Gauge
    deemed_approvals: Counter
    case_duration: Histogram
    records_consumed: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> DeskMetrics:
        """Register every desk metric on ``registry``."""
        return cls(
            cases_open=Gauge(
                "exchange_desk_cases_open", "Open cases.", ["case_type"], registry=registry
            ),
            cases_overdue=Gauge(
                "exchange_desk_cases_overdue",
                "Open cases past their whole-case deadline.",
                ["case_type"],
                registry=registry,
            ),
            cases_near_deadline=Gauge(
                "exchange_desk_cases_near_deadline",
                "Open cases past their warning threshold, not yet overdue.",
                ["case_type"],
                registry=registry,
            ),
            deemed_approvals=Counter(
                "exchange_desk_deemed_approvals",
                "Steps taken as approved because a department missed its deadline.",
                ["case_type"],
                registry=registry,
            ),
            case_duration=Histogram(
                "exchange_desk_case_duration_seconds",
                "Office time from acceptance to completion of a case.",
                ["case_type"],
                buckets=DURATION_BUCKETS,
                registry=registry,
            ),
            records_consumed=Counter(
                "exchange_desk_records_consumed",
                "Unified records consumed by the desk.",
                ["kind"],
                registry=registry,
            ),
        )

    def set_queue(self, counts: Mapping[str, QueueCounts]) -> None:
        """Set the queue gauges (every known case type, zero when absent)."""
        for case_type in sorted(set(CASE_TYPES) | set(counts)):
            c = counts.get(case_type, QueueCounts())
            self.cases_open.labels(case_type).set(c.open)
            self.cases_overdue.labels(case_type).set(c.overdue)
            self.cases_near_deadline.labels(case_type).set(c.near_deadline)
