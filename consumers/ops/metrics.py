"""Metrics of the lag exporter, built from an injected Prometheus registry.

``kafka_consumergroup_lag`` and ``kafka_consumergroup_lag_seconds`` keep the names and labels
(group, topic, partition) that kafka-lag-exporter dashboards expect; everything else is the
project's own under ``exchange_lag_``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from consumers.ops.status import Status

PARTITION_LABELS = ("group", "topic", "partition")

# Reasons counted by exchange_lag_poll_errors_total (a closed set: low cardinality).
BROKER_UNREACHABLE = "broker_unreachable"
GROUP_FETCH_FAILED = "group_fetch_failed"
UNKNOWN_GROUP = "unknown_group"
UNKNOWN_PARTITION = "unknown_partition"
END_OFFSETS_FAILED = "end_offsets_failed"
ERROR_REASONS = (
    BROKER_UNREACHABLE, GROUP_FETCH_FAILED, UNKNOWN_GROUP, UNKNOWN_PARTITION, END_OFFSETS_FAILED,
)


@dataclass(frozen=True)
class LagMetrics:
    """Every metric the lag exporter exports."""

    lag: Gauge
    lag_seconds: Gauge
    group_status: Gauge
    poll_errors: Counter
    poll_seconds: Histogram
    broker_up: Gauge
    groups: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry = REGISTRY) -> LagMetrics:
        """Register the exporter's metrics in ``registry``."""
        metrics = cls(
            lag=Gauge("kafka_consumergroup_lag",
                      "Offset lag: end offset minus the group's committed offset.",
                      PARTITION_LABELS, registry=registry),
            lag_seconds=Gauge("kafka_consumergroup_lag_seconds",
                              "Estimated age of the group's next unconsumed message, interpolated"
                              " from samples of the partition's end offset.",
                              PARTITION_LABELS, registry=registry),
            group_status=Gauge("exchange_lag_group_status",
                               "1 for the group's current status (OK, WARN, STALL, STOP, ERR),"
                               " 0 for the others.", ["group", "status"], registry=registry),
            poll_errors=Counter("exchange_lag_poll_errors_total",
                                "Conditions a poll met: broker unreachable, unknown group,"
                                " deleted partition, failed fetch.", ["reason"],
                                registry=registry),
            poll_seconds=Histogram("exchange_lag_poll_seconds",
                                   "Wall time of one poll of the broker (all groups).",
                                   registry=registry,
                                   buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)),
            broker_up=Gauge("exchange_lag_broker_up",
                            "1 when the last poll reached the broker, else 0.",
                            registry=registry),
            groups=Gauge("exchange_lag_groups", "Consumer groups seen by the last poll.",
                         registry=registry),
        )
        for reason in ERROR_REASONS:
            metrics.poll_errors.labels(reason)  # export zeros so rate() works from the start
        return metrics

    def set_status(self, group: str, status: Status) -> None:
        """Set the one-hot status gauges of a group."""
        for s in Status:
            self.group_status.labels(group, s.name).set(1 if s is status else 0)

    def forget_group(self, group: str) -> None:
        """Drop the status series of a group that no longer exists."""
        for s in Status:
            _remove(self.group_status, group, s.name)

    def forget_partition(self, group: str, topic: str, partition: int) -> None:
        """Drop the lag series of one partition of one group."""
        _remove(self.lag, group, topic, str(partition))
        _remove(self.lag_seconds, group, topic, str(partition))


def _remove(metric: Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # never set: nothing to drop
        metric.remove(*labels)
