"""A source partition the group never committed is read from its beginning after a rebalance.

(The Kafka-level evidence is the fault suite's worker-rebalance scenario; this checks which
partitions are sought, with aiokafka's side replaced.)
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from exchange.worker.positions import SeekingConsumerThread

CHANGELOG = "app-enterprise-records-changelog"


class _Client:
    def __init__(self) -> None:
        self.to_beginning: list[TP] = []

    def seek_to_beginning(self, *tps: TP) -> None:
        self.to_beginning.extend(tps)


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, *args: Any) -> None:
        self.lines.append(msg % args)


class _Consumer:
    @staticmethod
    def _is_changelog_tp(tp: TP) -> bool:
        return tp.topic == CHANGELOG


def _thread(client: _Client, log: _Log) -> SeekingConsumerThread:
    thread = object.__new__(SeekingConsumerThread)
    vars(thread).update(consumer=_Consumer(), log=log, _ensure_consumer=lambda: client)

    async def call_thread(fn: Any, *args: Any) -> Any:
        return fn(*args)

    vars(thread)["call_thread"] = call_thread
    return thread


def test_only_never_committed_stream_partitions_go_back_to_the_start(monkeypatch) -> None:
    committed = {TP("exchange.internal.owner-links.v1", 0): None,
                 TP("exchange.internal.owner-links.v1", 1): 7,
                 TP("dept.tax.enterprise", 2): 0,  # aiokafka does not seek 0 either
                 TP(CHANGELOG, 0): None}

    async def seek_to_committed(self: Any) -> dict[TP, int | None]:
        return committed

    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "seek_to_committed",
                        seek_to_committed)
    client, log = _Client(), _Log()
    result = asyncio.run(_thread(client, log).seek_to_committed())
    assert result == committed
    assert sorted(client.to_beginning) == [TP("dept.tax.enterprise", 2),
                                           TP("exchange.internal.owner-links.v1", 0)]
    assert "exchange.internal.owner-links.v1[0]" in log.lines[0]


def test_nothing_is_sought_when_every_partition_has_committed(monkeypatch) -> None:
    async def seek_to_committed(self: Any) -> dict[TP, int]:
        return {TP("dept.tax.enterprise", 0): 12, TP(CHANGELOG, 0): 40}

    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "seek_to_committed",
                        seek_to_committed)
    client, log = _Client(), _Log()
    asyncio.run(_thread(client, log).seek_to_committed())
    assert client.to_beginning == [] and log.lines == []
