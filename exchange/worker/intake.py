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
from collections.abc import Iterable, Sequence
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING
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

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - the loop
        """Faust's fetch loop, with source partitions delivered in bulk (see the module)."""
        if not self._intakes:
            await super()._drain_messages(fetcher)
            return
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                records, active = await self._wait_next_records(timeout=1.0)
                await self.sleep(0)
                if records is None or self.should_stop:
                    continue
                if not self.flow_active:
                    # A rebalance (or a stop) began during the fetch: drop it. (Faust's getmany
                    # also seeks back to the commits here; that raced with the assignment
                    # changing and crashed the fetcher, and the recovery that ends every
                    # rebalance seeks the partitions anyway.)
                    continue
                await self._deliver(records, active)
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _deliver(self, records: Any, active: set[TP] | None) -> None:
        generation = self.app.consumer_generation_id
        buffered = self._buffered_partitions
        for tp, chunk in records.items():
            if not self.flow_active or self.app.consumer_generation_id != generation:
                return  # a rebalance began: its seek reads the rest again
            if not chunk or (active is not None and tp not in active and tp not in buffered):
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            await self._maybe_commit()
            intake = self._intakes.get(tp.topic)
            if intake is not None:
                intake.put(generation, chunk)
                if intake.full:
                    await self.wait_first(intake.wait_room(), self.suspend_flow.wait())
                continue
            if not await self._deliver_one_by_one(tp, chunk, generation):
                return

    async def _deliver_one_by_one(self, tp: TP, chunk: Sequence[Any], generation: int) -> bool:
        """Faust's own per-message delivery (changelog partitions); False if the flow stopped."""
        read_offset = self._read_offset
        for record in chunk:
            if not self.flow_active or self.app.consumer_generation_id != generation:
                return False
            message = self._to_message(tp, record)
            offset = message.offset
            r_offset = read_offset[tp]
            if r_offset is not None and offset < r_offset:
                continue  # already read: Faust drops it
            if r_offset and offset - r_offset > 1 and self.app.topics.acks_enabled_for(tp.topic):
                await self._add_gap(tp, r_offset + 1, offset)
            await self._maybe_commit()
            await self.wait_first(self.callback(message), self.suspend_flow.wait())
            read_offset[tp] = offset
        return True

    async def _maybe_commit(self) -> None:
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()
