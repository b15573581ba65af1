"""The join's source messages, from the fetch to the join in bulk, without Faust's stream.

Faust hands every fetched message to its agent on its own: a message object, an event, a
channel queue, a stream step and an acknowledgement each (``make bench-join``: a Faust agent
that only copies passed 26 % of what a plain aiokafka consumer does, and the join waited
for its next message most of the time). And its stream buffers lose messages at the end of
a rebalance: the table recovery seeks the source partitions to their commits, then resumes
the flow control, which empties the stream buffers. What was fetched from the new positions
in between is gone while the partition reads on after it: the fault suite's rare message
"never processed while later offsets were", after a restart or a rebalance.

So the source partitions take a shorter path. :class:`JoinConsumer` puts each partition's
share of a fetch into its kind's :class:`Intake` in one step; the join takes what arrived
since its last batch (at most the batch size), folds it, waits for the broker's confirmation
of everything it wrote, and only then acknowledges the batch's offsets in bulk
(:meth:`JoinConsumer.ack_batch`). Table changelogs (recovery and standbys) keep Faust's
per-message path: table recovery relies on it.

Rebalances: the join takes nothing while the app is rebalancing (partitions moving, tables
restoring); the intake is emptied when partitions are revoked, and hands out only records
fetched in the current generation (older ones are read again from the seek that ends the
rebalance). The batch in hand when a rebalance starts is waited for
(:meth:`JoinConsumer.track_batch` makes Faust's ``wait_empty`` wait for it), and is
acknowledged only if the generation did not change meanwhile: otherwise whoever holds its
partitions now reads them again from the last commit (at-least-once, idempotent merge).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from faust.types import TP
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

from exchange.worker.positions import SeekingConsumer


class Intake:
    """Fetched records of one kind's source topics, waiting for the join (a bounded buffer).

    Filled by the consumer's drain loop, emptied by the join; both run on the app's event
    loop, so no lock. When it holds ``capacity`` records the drain loop waits for room, and
    with it the fetching: the broker keeps what the join has no time for yet.

    Each partition's share of a fetch is kept with the consumer generation it was fetched
    in, and is handed out only in that generation: after a rebalance the partition may be
    another worker's, or its table still restoring, and the seek that ends the rebalance
    reads it again (what Faust's stream does with a message of an older generation).
    """

    def __init__(self, kind: str, topics: Iterable[str], capacity: int) -> None:
        self.kind = kind
        self.topics = frozenset(topics)
        self.capacity = capacity
        self.dropped = 0  # records of an older generation, never handed out
        self._chunks: deque[tuple[int, Sequence[Any]]] = deque()
        self._count = 0
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def __len__(self) -> int:
        return self._count

    def put(self, generation: int, records: Sequence[Any]) -> None:
        """Add one partition's records of a fetch (in offset order) made in ``generation``."""
        self._chunks.append((generation, records))
        self._count += len(records)
        self._arrived.set()
        if self._count >= self.capacity:
            self._room.clear()

    @property
    def full(self) -> bool:
        return not self._room.is_set()

    async def wait_room(self) -> None:
        await self._room.wait()

    def clear(self) -> None:
        """Forget what was not taken (a rebalance: the seek that follows reads it again)."""
        self._chunks.clear()
        self._count = 0
        self._room.set()

    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for records; whether there are any."""
        if not self._count:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout)
            except TimeoutError:
                return False
        return True

    def take(self, max_size: int, generation: int) -> list[Any]:
        """Up to ``max_size`` of the records that arrived first, those fetched in
        ``generation`` (the others are dropped); may be empty when all were older."""
        batch: list[Any] = []
        chunks = self._chunks
        while chunks and len(batch) < max_size:
            fetched_in, chunk = chunks[0]
            room = max_size - len(batch)
            if len(chunk) <= room:
                chunks.popleft()
                part = chunk
            else:
                part = chunk[:room]
                chunks[0] = (fetched_in, chunk[room:])
            self._count -= len(part)
            if fetched_in == generation:
                batch.extend(part)
            else:
                self.dropped += len(part)
        if self._count < self.capacity:
            self._room.set()
        return batch


class BatchInFlight:
    """Stands for a batch in Faust's set of unacknowledged messages while it is folded, so
    that a rebalance waits for it (Faust's ``wait_empty`` reads ``acked`` and ``refcount``)."""

    __slots__ = ("acked", "generation", "refcount", "size", "__weakref__")

    def __init__(self, generation: int, size: int) -> None:
        self.acked = False
        self.generation = generation
        self.refcount = 1
        self.size = size

    def __repr__(self) -> str:
        return f"<join batch of {self.size} messages, generation {self.generation}>"


class JoinConsumer(SeekingConsumer):
    """The worker's consumer: source partitions in bulk to their :class:`Intake`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._intakes: dict[str, Intake] = {}

    def add_intake(self, intake: Intake) -> None:
        """Route the records of ``intake.topics`` to it (before the consumer starts)."""
        # Not handed to Faust's flow control to be emptied at a rebalance as its stream
        # buffers are: it empties them again when it resumes the flow at the end of a
        # rebalance, *after* seeking the partitions, so what was fetched from the new
        # positions in between was lost (the fault suite's rare skipped message). The intake
        # is emptied when partitions are revoked, and drops what is older than the current
        # generation.
        for topic in intake.topics:
            self._intakes[topic] = intake

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for intake in set(self._intakes.values()):
            intake.clear()
        await super().on_partitions_revoked(revoked)

    def track_batch(self, size: int) -> BatchInFlight:
        """Mark a batch as taken: a rebalance now waits until it is acknowledged or dropped."""
        token = BatchInFlight(self.app.consumer_generation_id, size)
        self._unacked_messages.add(token)  # type: ignore[arg-type]
        return token

    def ack_batch(self, token: BatchInFlight, records: Sequence[Any]) -> int:
        """Acknowledge a folded batch's offsets (all of it, in one step); return how many
        offsets were new. Nothing is acknowledged when the generation changed since the batch
        was taken: its partitions may be another worker's now, and are read again."""
        new = 0
        with ack_lock:
            if token.generation == self.app.consumer_generation_id:
                offsets: dict[TP, list[int]] = {}
                for record in records:
                    tp = TP(record.topic, record.partition)
                    offsets.setdefault(tp, []).append(record.offset)
                for tp, tp_offsets in offsets.items():
                    committed = self._committed_offset[tp]
                    index = self._acked_index[tp]
                    fresh = [o for o in tp_offsets
                             if o not in index and (committed is None or o >= committed)]
                    index.update(fresh)
                    self._acked[tp].extend(fresh)
                    new += len(fresh)
                self._n_acked += new
            self.release_batch(token)
        return new

    def release_batch(self, token: BatchInFlight) -> None:
        """The batch is done with (acknowledged, or dropped by a stop or failure)."""
        token.acked = True
        self._unacked_messages.discard(token)  # type: ignore[arg-type]
        notify(self._waiting_for_ack)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        """Faust's fetch step, under Faust's own fetch loop: each source partition's share of
        a fetch goes to its intake in one step; the rest (table changelogs) is yielded one
        message at a time, for the loop to deliver as it always does."""
        records, active = await self._wait_next_records(timeout)
        if records is None or self.should_stop or not self.flow_active:
            # Dropped when a rebalance (or a stop) began during the fetch. (Faust's getmany
            # also seeks back to the commits here; that raced with the assignment changing
            # and crashed the fetcher, and the recovery that ends every rebalance seeks the
            # partitions anyway.)
            return
        generation = self.app.consumer_generation_id
        buffered = self._buffered_partitions
        for tp, chunk in records.items():
            if active is not None and tp not in active and tp not in buffered:
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            intake = self._intakes.get(tp.topic)
            if intake is None:
                for record in chunk:
                    if self._rebalancing_since(generation):
                        return
                    yield tp, self._to_message(tp, record)
                continue
            if self._rebalancing_since(generation):
                return
            intake.put(generation, chunk)
            if self._commit_every is not None and self._n_acked >= self._commit_every:
                self._n_acked = 0  # as Faust's loop does for each message it delivers
                await self.commit()
            if intake.full:
                await self.wait_first(intake.wait_room(), self.suspend_flow.wait())

    def _rebalancing_since(self, generation: int) -> bool:
        """A rebalance began after the fetch of ``generation``: the rest of it is dropped, and
        the seek that ends the rebalance reads it again."""
        return not self.flow_active or self.app.consumer_generation_id != generation
