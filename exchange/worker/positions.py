"""Every newly assigned source partition without a committed offset starts at its beginning.

Faust positions its stream partitions after each rebalance with aiokafka's
``seek_to_committed``, which seeks only partitions whose committed offset is above 0. A
partition this group has never committed (a topic still new to it: the join's own
``owner-links`` and ``owner-snapshots`` topics early in a run) keeps whatever position the
client had reached, and records the client fetched before the rebalance ended (during table
recovery, or dropped by Faust when a fetch straddled a generation change) are never
delivered. The fault suite caught it: after a second worker joined, the first owner-links
messages of two partitions were never applied and 13 enterprise records lacked their
properties (worker-rebalance, 1 run in 4).

:class:`SeekingConsumer` seeks such partitions to their beginning, which is what the
worker's ``auto_offset_reset="earliest"`` means; at-least-once plus the idempotent merge make
a message read again harmless. Changelog partitions are left alone: table recovery
positions them itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP


class SeekingConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """aiokafka's consumer thread, seeking never-committed stream partitions to the start."""

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed: Mapping[Any, int] = await super().seek_to_committed()
        consumer: Any = self.consumer
        fresh = [tp for tp, offset in committed.items()
                 if not offset and not consumer._is_changelog_tp(tp)]
        if fresh:
            self.log.info("no committed offset yet for %d partition(s): reading them from "
                          "the beginning: %s", len(fresh),
                          ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in fresh)))
            client = self._ensure_consumer()
            await self.call_thread(client.seek_to_beginning, *fresh)
        return committed


class SeekingConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer with :class:`SeekingConsumerThread`."""

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return SeekingConsumerThread(self, loop=self.loop, beacon=self.beacon)


def install(app: faust.App) -> None:
    """Make ``app`` create a :class:`SeekingConsumer` (before its consumer exists)."""
    transport: Any = app.transport
    if not isinstance(transport, faust_aiokafka.Transport):
        raise TypeError(f"expected Faust's aiokafka transport, got {type(transport).__name__}")
    this_app_only: Any = transport  # an attribute of this transport, not of the class
    this_app_only.Consumer = SeekingConsumer
