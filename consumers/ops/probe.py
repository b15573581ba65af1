"""End-to-end probe: a tiny synthetic message through the join worker, on an interval.

One probe per partition of ``exchange.probe.v1`` each round; the enterprise agent echoes it
(in the same stream and batch as department facts) to ``exchange.probe-replies.v1``. The round
trip goes into ``exchange_probe_round_trip_seconds``, so a silent stall of the worker shows
even when no department publishes. A probe unanswered within its timeout counts as lost.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from exchange.settings import Settings
from exchange.topics import PROBE, PROBE_REPLIES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeMetrics:
    """The probe's metrics, on an injected registry."""

    round_trip: Histogram
    sent: Counter
    lost: Counter
    last_reply: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry = REGISTRY) -> ProbeMetrics:
        """Register the probe's metrics."""
        return cls(
            round_trip=Histogram("exchange_probe_round_trip_seconds",
                                 "Round trip of a synthetic message through the join worker.",
                                 registry=registry,
                                 buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60)),
            sent=Counter("exchange_probe_sent_total", "Probe messages sent.", registry=registry),
            lost=Counter("exchange_probe_lost_total",
                         "Probe messages not echoed within the timeout.", registry=registry),
            last_reply=Gauge("exchange_probe_last_reply_timestamp_seconds",
                             "Unix time of the last probe reply.", registry=registry),
        )


@dataclass
class Probe:
    """Sends probes and matches their replies; call :meth:`tick` on every interval."""

    settings: Settings
    metrics: ProbeMetrics
    timeout_s: float = 60.0
    pending: dict[str, float] = field(default_factory=dict)
    _producer: Any = None
    _consumer: Any = None

    def _connect(self) -> None:
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition

        options = self.settings.kafka_client_options()
        self._producer = KafkaProducer(**options, acks=1, linger_ms=0)
        self._consumer = KafkaConsumer(**options, group_id=None, enable_auto_commit=False)
        # Right after the topic is created the metadata may not list its partitions yet:
        # wait for them rather than listening to too few.
        deadline = time.monotonic() + 30
        partitions = self._consumer.partitions_for_topic(PROBE_REPLIES)
        while not partitions and time.monotonic() < deadline:
            self._consumer.topics()  # refreshes the metadata
            time.sleep(0.2)
            partitions = self._consumer.partitions_for_topic(PROBE_REPLIES)
        if not partitions:
            raise RuntimeError(f"topic {PROBE_REPLIES} has no partitions: is the bus set up?")
        tps = [TopicPartition(PROBE_REPLIES, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        self._consumer.seek_to_end(*tps)

    def tick(self) -> None:
        """Send one probe to every partition, read replies, expire the unanswered."""
        if self._producer is None:
            self._connect()
        now = time.time()
        for partition in sorted(self._producer.partitions_for(PROBE)):
            probe_id = uuid.uuid4().hex
            value = json.dumps({"id": probe_id, "sent": now}).encode()
            self._producer.send(PROBE, key=f"probe-{partition}".encode(), value=value,
                                partition=partition)
            self.pending[probe_id] = now
            self.metrics.sent.inc()
        self._producer.flush(timeout=10)
        self.collect(timeout_ms=200)

    def collect(self, timeout_ms: int = 1000) -> int:
        """Match the replies that have arrived; return how many were matched."""
        matched = 0
        for messages in self._consumer.poll(timeout_ms=timeout_ms).values():
            for message in messages:
                try:
                    probe_id = json.loads(message.value)["id"]
                except (ValueError, KeyError, TypeError):
                    continue
                sent = self.pending.pop(probe_id, None)
                if sent is not None:
                    received = time.time()
                    self.metrics.round_trip.observe(received - sent)
                    self.metrics.last_reply.set(received)
                    matched += 1
        cutoff = time.time() - self.timeout_s
        for probe_id, sent in list(self.pending.items()):
            if sent < cutoff:
                del self.pending[probe_id]
                self.metrics.lost.inc()
                log.warning("probe %s not echoed within %.0f s", probe_id, self.timeout_s)
        return matched

    def close(self) -> None:
        """Close the clients."""
        for client in (self._producer, self._consumer):
            if client is not None:
                client.close()
