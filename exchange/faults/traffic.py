"""Seeded simulator traffic, published in chunks while faults happen.

The same ``(seed, size)`` always gives the same events and the same bytes, so a crashed
publisher's batch can be rebuilt "from its source" and sent again, and the reference can be
folded from exactly what was sent. Valid events go through the department publisher
(acks=all, idempotent); broken ones through a producer that does not validate, as a careless
department would send them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from exchange.errors import PublishError
from exchange.schemas import SchemaRegistry
from exchange.settings import Settings
from exchange.worker.harness import WireMessage, wire_messages
from producers.publisher import DepartmentPublisher, make_producer
from producers.simulator import SimulatedEvent, simulate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrafficSize:
    """How many enterprise and property lives the simulator draws."""

    enterprises: int
    properties: int


#: A few thousand events per scenario (``make test``).
MODEST = TrafficSize(300, 180)
#: About ten thousand events per scenario, seventy thousand over the suite (``make
#: fault-suite``).
FULL = TrafficSize(1000, 600)
SIZES = {"modest": MODEST, "full": FULL}


@dataclass(frozen=True)
class Traffic:
    """The events of one seed, and the same events as wire messages (index for index)."""

    seed: int
    size: TrafficSize
    events: list[SimulatedEvent]
    messages: list[WireMessage]

    @classmethod
    def generate(cls, seed: int, size: TrafficSize, registry: SchemaRegistry) -> Traffic:
        """Shuffled traffic with 5 % redeliveries and 1 % events broken by the producer."""
        events = list(simulate(size.enterprises, size.properties, seed, shuffle=True,
                               duplicate_rate=0.05, invalid_rate=0.01))
        return cls(seed, size, events, wire_messages(events, registry))

    @property
    def event_ids(self) -> set[str]:
        """Distinct event ids of the traffic."""
        return {m.event_id for m in self.messages}

    def chunks(self, count: int) -> list[range]:
        """``count`` consecutive index ranges covering the traffic."""
        n = len(self.messages)
        bounds = [n * i // count for i in range(count + 1)]
        return [range(bounds[i], bounds[i + 1]) for i in range(count)]


def publish_range(publisher: DepartmentPublisher, raw: Any, traffic: Traffic,
                  indices: range, flush: bool = True) -> None:
    """Send ``traffic[indices]``: valid events validated, broken ones raw; then flush.

    The valid events go through :meth:`DepartmentPublisher.publish_many` (in bursts), the
    broken ones are sent as the publisher reaches them.
    """
    def valid() -> Iterator[tuple[str, Any]]:
        for i in indices:
            m, e = traffic.messages[i], traffic.events[i]
            if m.invalid_reason is None:
                yield e.event_type, e.record
            else:
                raw.send(m.topic, key=m.key, value=m.value, headers=m.headers)

    publisher.publish_many(valid())
    if flush:
        publisher.flush(timeout=180)
        raw.flush(timeout=180)


class TrafficPublisher(threading.Thread):
    """Publishes the traffic chunk by chunk; ``gate(i)`` holds chunk ``i`` back until true.

    A chunk whose delivery is not confirmed (a broker away longer than the delivery timeout)
    is sent again: same event ids, so the join applies it once. ``before_chunk`` runs first
    (e.g. a publisher that crashes on the same batch).
    """

    def __init__(self, settings: Settings, registry: SchemaRegistry, traffic: Traffic,
                 chunks: int, gate: Callable[[int], bool],
                 before_chunk: Callable[[int, range], None] | None = None,
                 gate_timeout: float = 600.0) -> None:
        super().__init__(name="traffic-publisher", daemon=True)
        self.settings, self.registry, self.traffic = settings, registry, traffic
        self.ranges = traffic.chunks(chunks)
        self.gate, self.before_chunk, self.gate_timeout = gate, before_chunk, gate_timeout
        self.sent_chunks = 0
        self.resent_chunks = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        """Publish every chunk (errors are kept in ``self.error`` for the runner)."""
        try:
            publisher = DepartmentPublisher(self.settings, registry=self.registry,
                                            ensure_topics=False)
            raw = make_producer(self.settings)
            try:
                for i, indices in enumerate(self.ranges):
                    deadline = time.monotonic() + self.gate_timeout
                    while not self.gate(i) and time.monotonic() < deadline:
                        time.sleep(0.2)  # polling the gate: the worker's progress
                    if self.before_chunk is not None:
                        self.before_chunk(i, indices)
                    self._send(publisher, raw, indices)
                    self.sent_chunks += 1
            finally:
                raw.close(timeout=30)
                publisher.close()
        except BaseException as exc:  # reported by the runner as a failure
            self.error = exc

    def _send(self, publisher: DepartmentPublisher, raw: Any, indices: range) -> None:
        for attempt in range(1, 6):
            try:
                publish_range(publisher, raw, self.traffic, indices)
                return
            except PublishError as exc:
                if attempt == 5:
                    raise
                self.resent_chunks += 1
                log.warning("chunk %s not confirmed (%s); sending it again", indices, exc)
