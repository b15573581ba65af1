"""The benchmarks' baseline: a plain aiokafka consume-and-produce copy of department topics.

What any consumer-producer pays for Kafka alone (fetch, produce with acks=all, commit), with
no decoding and no table: the join worker is measured against it in the same run.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from typing import Any

from exchange.worker.bench_kit import OneGroup

PASS_OUT = "bench.passthrough.v1"


class Passthrough(OneGroup):
    """Copies ``topics`` to :data:`PASS_OUT` in a thread of its own, committing each batch."""

    def __init__(self, options: Mapping[str, Any], topics: list[str], group: str) -> None:
        self.options = dict(options)
        self.topics = topics
        self.group = group
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._running: asyncio.Event | None = None  # cleared: paused
        self._parked = threading.Event()  # set while the copy waits out a pause
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start consuming (from the group's committed offsets, else the earliest)."""
        loop = asyncio.new_event_loop()
        self._loop, self._stop, self._running = loop, asyncio.Event(), asyncio.Event()
        self._running.set()
        self._thread = threading.Thread(target=self._main, args=(loop,), daemon=True)
        self._thread.start()

    def _main(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.run_until_complete(self._copy())
        except BaseException as exc:  # noqa: BLE001 - reported by check()
            self._error = exc
        finally:
            loop.close()

    async def _copy(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        assert self._stop is not None and self._running is not None
        consumer = AIOKafkaConsumer(*self.topics, **self.options, group_id=self.group,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        producer = AIOKafkaProducer(**self.options, acks="all", enable_idempotence=True,
                                    linger_ms=5)
        await consumer.start()
        await producer.start()
        try:
            while not self._stop.is_set():
                if not self._running.is_set():
                    self._parked.set()
                    await self._running.wait()
                    self._parked.clear()
                    continue
                batches = await consumer.getmany(timeout_ms=200, max_records=1000)
                for messages in batches.values():
                    for m in messages:
                        await producer.send(PASS_OUT, key=m.key, value=m.value,
                                            headers=list(m.headers or []))
                if batches:
                    await producer.flush()
                    await consumer.commit()
        finally:
            await consumer.stop()
            await producer.stop()

    def check(self) -> None:
        """Raise if the copy has stopped on an error."""
        if self._error is not None or (self._thread is not None
                                       and not self._thread.is_alive()):
            raise RuntimeError(f"the passthrough stopped: {self._error!r}")

    def stop(self) -> None:
        """Stop and wait for the thread."""
        if self._thread is None or self._loop is None or self._stop is None:
            return
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def cpu_seconds(self) -> float:
        """CPU seconds of the copy's thread (its event loop, consumer and producer)."""
        assert self._thread is not None and self._thread.ident is not None
        return time.clock_gettime(time.pthread_getcpuclockid(self._thread.ident))

    def pause(self) -> None:
        """Stop copying; return once the copy waits (the client keeps fetching meanwhile,
        which only helps the baseline)."""
        assert self._loop is not None and self._running is not None
        self._loop.call_soon_threadsafe(self._running.clear)
        if not self._parked.wait(30):
            raise TimeoutError("the passthrough did not pause within 30 s")

    def resume(self) -> None:
        assert self._loop is not None and self._running is not None
        self._loop.call_soon_threadsafe(self._running.set)

    def metrics(self) -> dict[str, float]:
        """No metrics of its own."""
        return {}
