"""What a batch sends, built into Kafka record batches per partition and confirmed together.

A producer's ``send`` costs Python work per message: a future, the accumulator's bookkeeping,
the partitioner, a log call. The join sends about two messages per event (the record, its
changelog entry, join messages), and in a py-spy profile of ``make bench-join``'s traffic
those sends and the sender task building their requests were a fifth of the worker's CPU.
Here each message is appended to aiokafka's record batch builder (compiled, about a
microsecond) for its topic and partition, and each built batch is handed to the producer
once (``send_batch``): one future per partition and flush, not one per message. The messages
are kept until the broker confirmed their batch, to be sent again if it failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka.partitioner import murmur2

log = logging.getLogger(__name__)

CONFIRM_ATTEMPTS = 5
_HASHES_MAX = 200_000


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to send; ``partition`` None: by its key, as the default partitioner does."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None = None
    partition: int | None = None


@dataclass(frozen=True, slots=True)
class Written:
    """Where a confirmed batch went: its partition and the offset of its last message."""

    topic: str
    partition: int
    last_offset: int


class Outbox:
    """Sends the messages of a batch and confirms them (:meth:`flush`).

    ``producer`` returns the running aiokafka producer (Faust starts it after the app is
    built). Sending again is safe: outputs are compacted records, join messages and changelog
    entries are idempotent, a dead letter twice is a duplicate the topic tolerates.
    """

    def __init__(self, producer: Callable[[], Any]) -> None:
        self._producer = producer
        self._partitions: dict[str, list[int]] = {}
        self._hashes: dict[bytes, int] = {}  # murmur2 of the keys, which records repeat

    @classmethod
    def of(cls, app: Any) -> Outbox:
        """An outbox sending through the aiokafka producer of the Faust app ``app``."""
        return cls(lambda: app.producer._ensure_producer())

    async def flush(self, messages: list[Outgoing]) -> list[Written]:
        """Send ``messages``; return once the broker confirmed all of them.

        What fails (a broker that went away, a leader that moved) is sent again a few times,
        then the last error is raised.
        """
        todo = messages
        written: list[Written] = []
        for attempt in range(1, CONFIRM_ATTEMPTS + 1):
            submitted = await self._submit(todo)
            outcomes = await asyncio.gather(*(future for _, _, future in submitted),
                                            return_exceptions=True)
            todo, error = [], None
            for (topic, in_batch, _), outcome in zip(submitted, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    todo.extend(in_batch)
                    error = outcome
                else:
                    written.append(Written(topic, outcome.partition,
                                           outcome.offset + len(in_batch) - 1))
            if error is None:
                return written
            if attempt == CONFIRM_ATTEMPTS:
                raise error
            log.warning("%d messages were not confirmed (%r); sending them again "
                        "(attempt %d of %d)", len(todo), error, attempt + 1, CONFIRM_ATTEMPTS)
            await asyncio.sleep(min(2.0 ** attempt, 10.0))
        raise AssertionError("unreachable")

    async def _submit(self, messages: list[Outgoing],
                      ) -> list[tuple[str, list[Outgoing], Awaitable[Any]]]:
        """Build ``messages`` into batches per topic and partition, in their order, and hand
        each batch to the producer; (topic, its messages, its delivery future) per batch."""
        producer = self._producer()
        by_partition: dict[tuple[str, int], list[Outgoing]] = defaultdict(list)
        keyed = {m.topic for m in messages if m.partition is None}
        partitions = {topic: await self._partitions_of(producer, topic) for topic in keyed}
        for message in messages:
            partition = message.partition
            if partition is None:
                partition = self._partition_of(producer, partitions[message.topic], message.key)
            by_partition[message.topic, partition].append(message)
        submitted = []
        for (topic, partition), group in by_partition.items():
            batch, in_batch = producer.create_batch(), list[Outgoing]()
            for message in group:
                if batch.append(timestamp=None, key=message.key, value=message.value,
                                headers=message.headers or []) is None:
                    # full: send it, start the next (an empty batch takes any one message)
                    submitted.append((topic, in_batch, await producer.send_batch(
                        batch, topic, partition=partition)))
                    batch, in_batch = producer.create_batch(), []
                    batch.append(timestamp=None, key=message.key, value=message.value,
                                 headers=message.headers or [])
                in_batch.append(message)
            submitted.append((topic, in_batch,
                              await producer.send_batch(batch, topic, partition=partition)))
        return submitted

    async def _partitions_of(self, producer: Any, topic: str) -> list[int]:
        """The partitions of ``topic``, asked of the broker once."""
        partitions = self._partitions.get(topic)
        if partitions is None:
            await producer.client._wait_on_metadata(topic)
            partitions = sorted(producer.client.cluster.partitions_for_topic(topic))
            self._partitions[topic] = partitions
        return partitions

    def _partition_of(self, producer: Any, partitions: list[int], key: bytes | None) -> int:
        """The partition of ``partitions`` the producer's default partitioner picks for
        ``key``."""
        if key is None:  # no key, no order to keep: any partition
            return int(producer._partitioner(None, partitions, partitions))
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= _HASHES_MAX:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return partitions[hashed % len(partitions)]
