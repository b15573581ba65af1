"""Metrics of the department publishers, built from an injected Prometheus registry.

Labelled by department only: never an event id, a credit code or a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram


@dataclass(frozen=True)
class PublisherMetrics:
    """Sent, failed and refused events, and the time to the broker's acknowledgement."""

    sent: Counter
    failed: Counter
    refused: Counter
    ack_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry = REGISTRY) -> PublisherMetrics:
        """Register the publisher's metrics in ``registry``."""
        return cls(
            sent=Counter("exchange_publisher_events_sent_total",
                         "Department events handed to the producer.", ["department"],
                         registry=registry),
            failed=Counter("exchange_publisher_events_failed_total",
                           "Department events the broker did not acknowledge.", ["department"],
                           registry=registry),
            refused=Counter("exchange_publisher_events_refused_total",
                            "Department events refused by validation before sending.",
                            ["department"], registry=registry),
            ack_seconds=Histogram("exchange_publisher_ack_seconds",
                                  "Time from send to the broker's acknowledgement (acks=all).",
                                  ["department"], registry=registry,
                                  buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1,
                                           2.5, 5, 10)),
        )


@cache
def default_metrics() -> PublisherMetrics:
    """The process-wide publisher metrics on the default registry (created once)."""
    return PublisherMetrics.create()
