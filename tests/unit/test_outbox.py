"""The outbox builds a batch's messages into record batches per partition and confirms them.

The producer here is a stand-in that keeps the built batches (aiokafka's own batch builder
builds them); what the broker does with them is tested against the real broker
(tests/integration/test_worker_join.py).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.memory_records import MemoryRecords

from exchange.worker import outbox as outbox_module
from exchange.worker.outbox import CONFIRM_ATTEMPTS, Outbox, Outgoing, Written

PARTITIONS = 4


class Producer:
    """Keeps each submitted batch's records; fails the first ``failures`` batches."""

    def __init__(self, batch_size: int = 16384, failures: int = 0) -> None:
        self.batch_size = batch_size
        self.failures = failures
        self.batches: list[tuple[str, int, list[tuple[bytes | None, bytes | None, Any]]]] = []
        self.ends: dict[tuple[str, int], int] = defaultdict(int)

        async def wait_on_metadata(_topic: str) -> None:
            return None

        cluster = SimpleNamespace(partitions_for_topic=lambda _t: set(range(PARTITIONS)))
        self.client = SimpleNamespace(cluster=cluster, _wait_on_metadata=wait_on_metadata)
        self._partitioner = DefaultPartitioner()

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0)

    async def send_batch(self, batch: BatchBuilder, topic: str, *,
                         partition: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.failures:
            self.failures -= 1
            future.set_exception(KafkaTimeoutError())
            return future
        records = MemoryRecords(bytes(batch._build())).next_batch()
        self.batches.append((topic, partition, [(r.key, r.value, r.headers) for r in records]))
        base = self.ends[topic, partition]
        self.ends[topic, partition] += batch.record_count()
        future.set_result(SimpleNamespace(partition=partition, offset=base))
        return future


def _flush(producer: Producer, messages: list[Outgoing]) -> list[Written]:
    return asyncio.run(Outbox(lambda: producer).flush(messages))


def test_messages_go_to_the_default_partitioners_partition_in_one_batch_each() -> None:
    producer = Producer()
    messages = [Outgoing("out", f"key-{i % 7}".encode(), f"v{i}".encode()) for i in range(40)]
    messages.append(Outgoing("changelog", b"key-1", b"pinned", None, 3))
    written = _flush(producer, messages)
    expected: dict[tuple[str, int], list[bytes | None]] = defaultdict(list)
    for m in messages:
        partition = m.partition if m.partition is not None else DefaultPartitioner()(
            m.key, list(range(PARTITIONS)), list(range(PARTITIONS)))
        expected[m.topic, partition].append(m.value)
    assert {(t, p): [v for _, v, _ in records] for t, p, records in producer.batches} == expected
    assert len(producer.batches) == len(expected)  # one batch per topic and partition
    assert sorted((w.topic, w.partition, w.last_offset) for w in written) == sorted(
        (t, p, len(values) - 1) for (t, p), values in expected.items())


def test_a_full_batch_is_sent_and_the_rest_follows_in_order() -> None:
    producer = Producer(batch_size=200)
    messages = [Outgoing("out", None, f"{i:03d}".encode() * 20, [("n", str(i).encode())], 0)
                for i in range(10)]
    written = _flush(producer, messages)
    assert len(producer.batches) > 1
    values = [v for _, _, records in producer.batches for _, v, _ in records]
    assert values == [m.value for m in messages]
    assert producer.batches[0][2][0][2] == [("n", b"0")]  # headers kept
    assert max(w.last_offset for w in written) == len(messages) - 1


def test_a_failed_batch_is_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_wait(_seconds: float) -> None:
        return None

    monkeypatch.setattr(outbox_module.asyncio, "sleep", no_wait)
    producer = Producer(failures=1)
    messages = [Outgoing("out", b"k", b"v1", None, 0), Outgoing("dead", b"k", b"v2", None, 1)]
    _flush(producer, messages)
    sent = sorted(v for _, _, records in producer.batches for _, v, _ in records)
    assert sent == [b"v1", b"v2"]  # each exactly once after the retry


def test_it_gives_up_with_the_error_after_its_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_wait(_seconds: float) -> None:
        return None

    monkeypatch.setattr(outbox_module.asyncio, "sleep", no_wait)
    producer = Producer(failures=CONFIRM_ATTEMPTS)
    with pytest.raises(KafkaTimeoutError):
        _flush(producer, [Outgoing("out", b"k", b"v", None, 0)])
    assert producer.batches == []
