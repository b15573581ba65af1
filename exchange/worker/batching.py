"""Batches of stream events for a Faust agent, acknowledged only when folded.

(The join worker used this until its source messages bypassed Faust's stream, see
:mod:`exchange.worker.intake`; the Faust baseline of ``make bench-join`` still does.)

Faust's ``Stream.take_events`` does not fit an at-least-once join that batches for speed:

- it stops filling while the agent works on a batch, so a batch holds only what the stream
  moves in its ``within`` window afterwards (13 messages on average under a backlog in
  ``make bench-join``, at 20 ms); the agent then pays its per-batch costs (two broker round
  trips) for a handful of events;
- it acknowledges a batch in a ``finally`` block, so a batch whose body raised or was
  cancelled by a stop is committed as if it had been folded.

:func:`take_batches` keeps filling while a batch is processed (up to ``max_size`` waiting
events, then the stream waits), so under load each batch is what arrived during the last
one, and at a low rate a batch is the one or two events that just came: batching adapts to
the rate without a timer that adds latency. A batch is acknowledged when the agent asks for
the next one, never on an exception or cancellation: those events are redelivered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from faust.types import EventT, StreamT


async def take_batches(
    stream: StreamT[Any], max_size: int, idle_timeout: float = 1.0
) -> AsyncIterator[list[EventT[Any]]]:
    """Yield the events that arrived since the last batch (at most ``max_size``).

    ``idle_timeout``: how long to wait for a first event before checking for a stop again.
    """
    s: Any = stream  # Faust's Stream (the protocol lacks the helpers used below)
    pending: list[EventT[Any]] = []
    arrived = asyncio.Event()
    room = asyncio.Event()
    room.set()

    async def add(value: Any) -> Any:
        event = s.current_event
        if event is None:
            raise RuntimeError("stream event missing while batching")
        while len(pending) >= max_size:  # a full batch waits: the stream waits with it
            room.clear()
            await s.wait(room)
            if s.should_stop:
                return value
        pending.append(event)
        arrived.set()
        return value

    acks_enabled = s.enable_acks
    s.enable_acks = False  # acked below, once the agent has folded the batch
    s.add_processor(add)
    s._enable_passive(aiter(s.channel))
    try:
        while not s.should_stop:
            if not pending:
                arrived.clear()
                await s.wait_for_stopped(arrived, timeout=idle_timeout)
                if not pending:
                    continue
            batch = pending[:max_size]
            del pending[:max_size]
            room.set()
            yield batch
            # Only reached when the agent asks for the next batch: it folded this one.
            for event in batch:
                await s.ack(event)
    finally:
        s.enable_acks = acks_enabled
        s._processors.remove(add)
