"""Where the join's source partitions are read from, and how far their offsets are committed.

Three changes to Faust's consumer (faust-streaming 0.15), each found by the fault suite:

1. **A never-committed source partition starts at its beginning after every rebalance.**
   Faust positions its stream partitions with aiokafka's ``seek_to_committed``, which seeks
   only partitions whose committed offset is above 0. A partition this group has never
   committed keeps whatever position the client had reached, and records the client fetched
   before the rebalance ended (during table recovery, or dropped by Faust when a fetch
   straddled a generation change) were never delivered: after a second worker joined, the
   first owner-links messages of two partitions were never applied (worker-rebalance, 1 run
   in 4). :class:`SeekingConsumerThread` seeks such partitions to their beginning, which is
   what the worker's ``auto_offset_reset="earliest"`` means, and notes that beginning.

2. **A source message is never dropped for being behind Faust's "read offset".** Faust drops
   a fetched message whose offset is below the last one it delivered, and takes an offset
   jump as a "gap" it may commit over. Both assume fetches never go back, but the seeks of
   a rebalance do, while a batch fetched before the seek is still being delivered: the
   delivered messages of the old batch then hid the re-fetched ones. The join's source topics
   are written by idempotent, non-transactional producers and never compacted, so their
   offsets have no holes and a message delivered twice is folded twice to the same record
   (at-least-once, idempotent merge). Changelog partitions keep Faust's bookkeeping: table
   recovery relies on it.

3. **An offset is committed only when every message before it was acknowledged.** Faust's
   ``_new_offset`` commits the first run of acknowledged offsets even when it starts one past
   the committed offset (faust-streaming issue 606, "Wrong offset commit in case of gaps"), or
   anywhere at all for a partition not committed yet. The fault suite lost an event that way
   (worker-rebalance: offset 48 of a social-security partition never applied, 49-106
   committed after a rebalance). :meth:`SeekingConsumer._new_offset` commits only a run that
   starts at the committed offset, or at the partition's first offset when nothing is
   committed (or retention deleted past the committed one). A message that is never
   acknowledged so holds its partition's commit, in plain sight of the lag exporter, instead
   of being skipped.

   Such a hole is reported: when later offsets of a partition are acknowledged and the one
   at its commit is not for :data:`HOLE_GRACE_SECONDS`, that message was fetched but never
   reached the agent (within a partition the join acknowledges in order), and a warning
   names it once. The fault suite found one after a restart (worker-kills: offset 112 of a
   partition never folded, 113 on were). The commit holds there, so the next start of the
   worker reads the partition again from it. Right after a rebalance such holes are common
   and heal themselves (the acknowledgements of the last generation's batch arrive late, and
   the seek reads the partition again): the grace period is long enough to let them.
   (Seeking the partition back at once was tried and stalled the worker's fetcher in one
   run in two; it is not done.) The skipped messages themselves were Faust's: its stream
   buffers are emptied when the flow resumes at the end of a rebalance, after the seek; the
   join's sources no longer go through them (:mod:`exchange.worker.intake`), and the warning
   has not fired since.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.utils.functional import consecutive_numbers

#: How long a partition's next offset may stay unacknowledged while later ones are
#: acknowledged before it is reported. Within a partition the join acknowledges in order, so
#: such a hole is a message that never reached the agent.
HOLE_GRACE_SECONDS = 30.0


class SeekingConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """aiokafka's consumer thread, seeking never-committed stream partitions to the start."""

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed: Mapping[Any, int] = await super().seek_to_committed()
        consumer: Any = self.consumer
        sources = [tp for tp in committed if not consumer._is_changelog_tp(tp)]
        fresh = [tp for tp in sources if not committed[tp]]
        client = self._ensure_consumer()
        if fresh:
            self.log.info("no committed offset yet for %d partition(s): reading them from "
                          "the beginning: %s", len(fresh),
                          ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in fresh)))
            await self.call_thread(client.seek_to_beginning, *fresh)
        if sources:
            starts = await self.call_thread(client.beginning_offsets, sources)
            consumer.note_starts({TP(tp.topic, tp.partition): offset
                                  for tp, offset in starts.items()})
        return committed


class SourceReadOffsets(defaultdict[TP, int | None]):
    """Faust's per-partition read offsets, kept for changelog partitions only: for a source
    partition the read offset is always unknown, so no message is dropped as already read
    and no offset jump is taken as a gap that may be committed over (see the module notes)."""

    def __init__(self, is_changelog: Callable[[TP], bool]) -> None:
        super().__init__(lambda: None)
        self._is_changelog = is_changelog

    def __getitem__(self, tp: TP) -> int | None:
        return super().__getitem__(tp) if self._is_changelog(tp) else None


class SeekingConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer with the three changes of this module."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_offset = SourceReadOffsets(self._is_changelog_tp)
        self._start_offsets: dict[TP, int] = {}  # first offset of each source partition
        self._holes: dict[TP, tuple[int, float]] = {}  # offset not acknowledged, since

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return SeekingConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def note_starts(self, starts: Mapping[TP, int]) -> None:
        """Record the first offsets of the assigned source partitions (read at each seek)."""
        self._start_offsets = dict(starts)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        # Until the next seek, what is known of these partitions is of the last assignment:
        # acknowledgements that arrive late for them are neither committed nor holes.
        for tp in revoked:
            self._start_offsets.pop(tp, None)
            self._holes.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        if not acked:
            return None
        acked.sort()
        # The next offset to acknowledge: the committed one (None when nothing, or 0, was
        # committed), or the partition's first, if retention has deleted up to past it.
        expected, start = self._committed_offset[tp], self._start_offsets.get(tp)
        if expected is None or (start is not None and start > expected):
            expected = start
        if expected is None:
            return None
        if acked[0] != expected:  # the message at ``expected`` is not acknowledged yet
            self._hole(tp, expected)
            return None
        self._holes.pop(tp, None)
        batch = next(consecutive_numbers(acked))
        acked[: len(batch)] = []
        self._acked_index[tp].difference_update(batch)
        return batch[-1] + 1

    def _hole(self, tp: TP, offset: int) -> None:
        """``offset`` of ``tp`` is not acknowledged while later ones are: after the grace
        period, say so once (the commit holds there until a restart or rebalance reads it)."""
        now = time.monotonic()
        seen = self._holes.get(tp)
        if seen is None or seen[0] != offset:
            self._holes[tp] = (offset, now)
            return
        if now - seen[1] < HOLE_GRACE_SECONDS:
            return  # within the grace period, or already reported (since: infinity)
        if not (self.flow_active and self.app.flow_control.is_active()):
            return  # a rebalance is under way: its seek reads the partition again anyway
        if tp not in self.assignment() or tp not in self._start_offsets:
            # Late acknowledgements of a partition this worker no longer has, or one not yet
            # sought in this assignment: the seek after a rebalance reads it again.
            return
        self._holes[tp] = (offset, math.inf)  # reported: never again for this offset
        self.log.warning("%s[%d]: offset %d was never processed while later offsets were; "
                         "the partition's commit holds there until it is (a restart or a "
                         "rebalance reads it again)", tp.topic, tp.partition, offset)


def install(app: faust.App, consumer: type[SeekingConsumer] = SeekingConsumer) -> None:
    """Make ``app`` create a ``consumer``, a :class:`SeekingConsumer` (before its consumer
    exists)."""
    transport: Any = app.transport
    if not isinstance(transport, faust_aiokafka.Transport):
        raise TypeError(f"expected Faust's aiokafka transport, got {type(transport).__name__}")
    this_app_only: Any = transport  # an attribute of this transport, not of the class
    this_app_only.Consumer = consumer
