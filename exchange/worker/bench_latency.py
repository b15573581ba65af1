"""Publish-to-output latency through a consume-and-produce subject (the worker, a passthrough).

Every event published in the measured phase is paired with the *first* output message that
carries it: for the join worker, the first unified record whose ``history`` lists the event's
id (records are keyed, so the first one on the topic is the one the event's batch produced;
ids a record merely mentions, such as its owner's latest event, do not count); for the
passthrough, its copy (``event_id`` header). Latency is from the wall time just before the
send to the wall time the reader got the output. An event never seen is *unmatched*: it is
counted and named in the result, never dropped.

Warm-up: the subject's group is started at the end of its source topics (what earlier runs
left there is not its business), the subject is started, and warm-up events are published at
the measured rate until every one of them has come out: start-up, group join, partition
assignment and table recovery are over before the first measured event is sent.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from exchange.worker import records_codec
from exchange.worker.bench_kit import (
    Access,
    Subject,
    batch_stats,
    department_of,
    department_producers,
    partitions,
    start_at_end,
)
from exchange.worker.harness import WireMessage

Absorbed = Callable[[Any, Collection[str]], Iterable[str]]


#: An event id as the simulator makes them (a UUID), as it stands in a record's Avro bytes.
_EVENT_ID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def history_ids(message: Any, wanted: Collection[str]) -> list[str]:
    """Event ids a unified record has absorbed; only decoded when it can hold a wanted one
    (ids are plain strings in the Avro bytes, so one absent from the bytes is absent).

    The ids in the bytes are found in one pass and looked up in ``wanted``: searching the
    bytes for every wanted id cost the reader a time proportional to the events in flight,
    so that a reader that fell behind fell further behind (2 s of "latency" at 1,000
    events/s that was the reader's own)."""
    value = message.value
    if value is None or not any(i.decode() in wanted for i in _EVENT_ID.findall(value)):
        return []
    return [h["event_id"] for h in records_codec.decode(value)["history"]]


def header_id(message: Any, _wanted: Collection[str]) -> list[str]:
    """The event id a passthrough copy carries in its headers."""
    return [dict(message.headers or []).get("event_id", b"").decode()]


class Matcher:
    """Pairs each sent event with the first output that carries it (sent from another thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: dict[str, float] = {}
        self._pending: set[str] = set()
        self.latencies: dict[str, float] = {}
        self.read_delays: list[float] = []  # appended by the reading thread only

    def sent(self, event_id: str, at: float) -> None:
        """``event_id`` is being published at wall time ``at``."""
        with self._lock:
            if event_id in self._sent:
                raise ValueError(f"event {event_id} sent twice: its latency would be ambiguous")
            self._sent[event_id] = at
            self._pending.add(event_id)

    def pending(self) -> frozenset[str]:
        """Events sent and not seen yet."""
        with self._lock:
            return frozenset(self._pending)

    def seen(self, event_ids: Iterable[str], at: float) -> int:
        """An output carrying ``event_ids`` was read at wall time ``at``; later ones are not
        the first and ids never sent here (warm-up, earlier runs) are not ours. Returns how
        many events it was the first output of."""
        first = 0
        with self._lock:
            for event_id in event_ids:
                if event_id in self._pending:
                    self._pending.discard(event_id)
                    self.latencies[event_id] = at - self._sent[event_id]
                    first += 1
        return first

    def in_send_order(self) -> list[float]:
        """Latencies of the events seen, in the order they were sent."""
        with self._lock:
            return [self.latencies[e] for e in self._sent if e in self.latencies]

    def unmatched(self) -> list[str]:
        """Events sent and never seen, sorted."""
        with self._lock:
            return sorted(self._pending)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in (0, 1]) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class LatencyRun:
    """One measured phase: the latency of every matched event, the unmatched, the batches."""

    rate: float
    warmup_events: int
    warmup_seconds: float
    latencies: list[float]  # in send order
    unmatched: list[str]
    batches: dict[str, Any] = field(default_factory=dict)
    # From an output's producer timestamp (the subject's send call) to its read: the part of
    # the latency spent in the subject's producer, the broker and the reader; the rest was
    # spent before the subject sent.
    read_delays: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Sample count, unmatched count, p50/p99/max in milliseconds."""
        out: dict[str, Any] = {
            "rate_events_per_s": self.rate, "warmup_events": self.warmup_events,
            "warmup_s": round(self.warmup_seconds, 1), "samples": len(self.latencies),
            "unmatched": len(self.unmatched),
        }
        if self.latencies:
            out.update({f"{name}_ms": round(percentile(self.latencies, q) * 1000, 1)
                        for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))})
            # Rising from third to third: the subject fell behind the rate (a queue grew).
            n = len(self.latencies)
            thirds = [self.latencies[i * n // 3:(i + 1) * n // 3] for i in range(3)]
            out["p50_by_third_ms"] = [round(percentile(t, 0.5) * 1000, 1)
                                      for t in thirds if t]
        if self.read_delays:
            out["sent_to_read_p99_ms"] = round(percentile(self.read_delays, 0.99) * 1000, 1)
        if self.batches:
            out["batches"] = self.batches
        return out


def measure(access: Access, subject: Subject, sources: list[str], outputs: list[str],
            absorbed: Absorbed, messages: list[WireMessage], rate: float, warmup: int,
            drain_seconds: float = 60.0) -> LatencyRun:
    """Warm ``subject`` up on ``messages[:warmup]``, then measure the rest at ``rate``/s."""
    reader = _tail(access.reader, outputs)
    for group, topics in subject.groups(sources).items():
        start_at_end(access.admin, group, topics)
    publishers = department_producers(access, messages, linger_ms=0)
    subject.start()
    try:
        t0 = time.monotonic()
        warm = _phase(reader, publishers, subject, absorbed, messages[:warmup], rate, 300.0)
        warmed = time.monotonic() - t0
        if warm.unmatched():
            raise RuntimeError(f"warm-up: {len(warm.unmatched())} of {warmup} events never "
                               f"came out, e.g. {warm.unmatched()[:3]}")
        before = subject.metrics()
        timed = _phase(reader, publishers, subject, absorbed, messages[warmup:], rate,
                       drain_seconds)
        after = subject.metrics()
    finally:
        subject.stop()
        reader.close()
        for producer in publishers.values():
            producer.close()
    return LatencyRun(rate, warmup, warmed, timed.in_send_order(), timed.unmatched(),
                      batch_stats(before, after), timed.read_delays)


def _tail(options: Any, topics: list[str]) -> Any:
    """A consumer of ``topics`` positioned at their current end (positions resolved now)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(**options, group_id=None, enable_auto_commit=False)
    tps = partitions(options, topics)
    consumer.assign(tps)
    consumer.seek_to_end(*tps)
    for tp in tps:
        consumer.position(tp)
    return consumer


def _phase(reader: Any, publishers: dict[str, Any], subject: Subject, absorbed: Absorbed,
           messages: list[WireMessage], rate: float, drain_seconds: float) -> Matcher:
    """Publish ``messages`` at ``rate`` while reading the outputs; return the pairing once
    every event came out or ``drain_seconds`` after the last send."""
    matcher = Matcher()
    errors: list[BaseException] = []
    thread = threading.Thread(target=_publish_paced,
                              args=(publishers, messages, rate, matcher, errors), daemon=True)
    thread.start()
    sent_all_at: float | None = None
    while True:
        subject.check()
        batches = reader.poll(timeout_ms=100, max_records=2000)
        now = time.time()
        if batches:
            wanted = matcher.pending()
            for records in batches.values():
                for m in records:
                    if matcher.seen(absorbed(m, wanted), now):
                        matcher.read_delays.append(now - m.timestamp / 1000)
        if thread.is_alive():
            continue
        if errors:
            raise RuntimeError(f"publishing failed: {errors[0]!r}") from errors[0]
        sent_all_at = sent_all_at or time.monotonic()
        if not matcher.pending() or time.monotonic() - sent_all_at > drain_seconds:
            return matcher


def _publish_paced(publishers: dict[str, Any], messages: list[WireMessage], rate: float,
                   matcher: Matcher, errors: list[BaseException]) -> None:
    try:
        futures = []
        start = time.perf_counter()
        for i, m in enumerate(messages):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            matcher.sent(m.event_id, time.time())
            futures.append(publishers[department_of(m)].send(
                m.topic, key=m.key, value=m.value, headers=m.headers))
        for producer in publishers.values():
            producer.flush(timeout=60)
        failed = [f.exception for f in futures if not f.succeeded()]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(messages)} sends failed: {failed[0]!r}")
    except BaseException as exc:  # noqa: BLE001 - handed to the measuring thread
        errors.append(exc)
