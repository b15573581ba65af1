"""What the bus ended with: every message of the output and dead-letter topics, read back.

Built on :class:`exchange.worker.harness.OutputReader` (latest record per key, dead letters);
the observer also keeps, for the keys it is told to track, every version of the record in
offset order (what a desk consumed), and the event ids seen so far, to measure progress.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from exchange.topics import ENTERPRISE_OUT, PROPERTY_OUT
from exchange.worker.harness import OutputReader

OUTPUT_TOPICS = (ENTERPRISE_OUT, PROPERTY_OUT)


class BusObserver(OutputReader):
    """Reads ``exchange.enterprise.v1``, ``exchange.property.v1`` and the dead letters."""

    def __init__(self, bootstrap: str, tracked: set[str] | None = None) -> None:
        super().__init__(bootstrap, request_timeout_ms=40_000)
        self.tracked = tracked or set()
        self.versions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.dead_letter_ids: Counter[str] = Counter()
        self.seen_ids: set[str] = set()
        self.messages = 0

    def poll(self, timeout_ms: int = 500) -> int:
        """Read what has arrived; return how many messages were read."""
        n = super().poll(timeout_ms)
        self.messages += n
        return n

    def on_dead_letter(self, headers: dict[str, str]) -> None:
        """Keep the dead letter and count its event id."""
        super().on_dead_letter(headers)
        event_id = headers.get("original_event_id", "")
        self.dead_letter_ids[event_id] += 1
        self.seen_ids.add(event_id)

    def on_output(self, value: bytes | None) -> None:
        """Decode one output message, unless it is a tombstone."""
        if value is not None:  # a tombstone: the bus never writes one, compaction may
            super().on_output(value)

    def on_record(self, record: dict[str, Any]) -> None:
        """Keep the record, its version if tracked, and the event ids of its history."""
        super().on_record(record)
        if record["key"] in self.tracked:
            self.versions[record["key"]].append(record)
        self.seen_ids.update(h["event_id"] for h in record.get("history", ()))

    def accounted(self, event_ids: set[str]) -> float:
        """The share of ``event_ids`` seen in a history or a dead letter so far (0..1)."""
        if not event_ids:
            return 1.0
        return len(event_ids & self.seen_ids) / len(event_ids)


def end_offsets(bootstrap: str, topics: tuple[str, ...] = OUTPUT_TOPICS) -> dict[tuple[str, int],
                                                                               int]:
    """The end offset of every partition of ``topics``."""
    from kafka import KafkaConsumer, TopicPartition

    probe = KafkaConsumer(bootstrap_servers=bootstrap.split(","), request_timeout_ms=40_000)
    try:
        parts = [TopicPartition(t, p) for t in topics
                 for p in sorted(probe.partitions_for_topic(t) or ())]
        return {(tp.topic, tp.partition): off for tp, off in probe.end_offsets(parts).items()}
    finally:
        probe.close()
