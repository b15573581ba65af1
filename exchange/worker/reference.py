"""A reference run of the join without Kafka or Faust: the same processor, in-memory tables.

Used by tests and the fault verifier: what an uninterrupted worker must converge to for a
given set of messages. Repartition messages (owner links and snapshots) are fed back until
none is left, as the topics would.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from exchange.schemas import SchemaRegistry
from exchange.topics import OWNER_LINKS, OWNER_SNAPSHOTS
from exchange.worker.processor import (
    DeadLetter,
    Incoming,
    process_enterprise_batch,
    process_property_batch,
)


class ReferenceJoin:
    """The join's end state for messages fed in any order."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self.enterprises: dict[str, dict[str, Any]] = {}
        self.properties: dict[str, dict[str, Any]] = {}
        self.dead_letters: list[DeadLetter] = []
        self._offset = 0

    def feed(self, topic: str, key: bytes | None, value: bytes | None,
             headers: Mapping[str, bytes] | None = None) -> None:
        """Apply one department message and everything it causes on the repartition topics."""
        queue: deque[tuple[str, bytes | None, bytes | None]] = deque([(topic, key, value)])
        first = True
        while queue:
            topic, key, value = queue.popleft()
            self._offset += 1
            incoming = Incoming(topic, 0, self._offset, key, value,
                                dict(headers or {}) if first else {})
            first = False
            if topic == OWNER_LINKS or topic.endswith(".enterprise"):
                result = process_enterprise_batch([incoming], self.enterprises.get,
                                                  self.registry)
                self.enterprises.update(result.records)
            elif topic == OWNER_SNAPSHOTS or topic.endswith(".property"):
                result = process_property_batch([incoming], self.properties.get, self.registry)
                self.properties.update(result.records)
            else:
                raise ValueError(f"not a topic of the join: {topic}")
            self.dead_letters.extend(result.dead_letters)
            queue.extend((t, k.encode(), v) for t, k, v in result.outgoing)
