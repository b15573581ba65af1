"""The join's source partitions: where they are read from and how far they are committed.

(The Kafka-level evidence is the fault suite's worker-rebalance scenario; these check the
decisions of ``exchange.worker.positions`` with aiokafka's side replaced.)
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from exchange.worker import positions
from exchange.worker.positions import SeekingConsumer, SeekingConsumerThread, SourceReadOffsets

CHANGELOG = "app-enterprise-records-changelog"


class _Client:
    def __init__(self) -> None:
        self.to_beginning: list[TP] = []
        self.asked_starts: list[TP] = []

    def seek_to_beginning(self, *tps: TP) -> None:
        self.to_beginning.extend(tps)

    async def beginning_offsets(self, tps: list[TP]) -> dict[TP, int]:
        self.asked_starts.extend(tps)
        return {tp: 3 for tp in tps}


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, *args: Any) -> None:
        self.lines.append(msg % args)


class _Consumer:
    def __init__(self) -> None:
        self.starts: dict[TP, int] = {}

    @staticmethod
    def _is_changelog_tp(tp: TP) -> bool:
        return tp.topic == CHANGELOG

    def note_starts(self, starts: dict[TP, int]) -> None:
        self.starts.update(starts)


def _thread(client: _Client, log: _Log) -> SeekingConsumerThread:
    thread = object.__new__(SeekingConsumerThread)
    vars(thread).update(consumer=_Consumer(), log=log, _ensure_consumer=lambda: client)

    async def call_thread(fn: Any, *args: Any) -> Any:
        result = fn(*args)
        return await result if asyncio.iscoroutine(result) else result

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
    sources = [tp for tp in committed if tp.topic != CHANGELOG]
    assert sorted(client.asked_starts) == sorted(sources)  # where a commit may start


def test_nothing_is_sought_when_every_partition_has_committed(monkeypatch) -> None:
    async def seek_to_committed(self: Any) -> dict[TP, int]:
        return {TP("dept.tax.enterprise", 0): 12, TP(CHANGELOG, 0): 40}

    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "seek_to_committed",
                        seek_to_committed)
    client, log = _Client(), _Log()
    asyncio.run(_thread(client, log).seek_to_committed())
    assert client.to_beginning == [] and log.lines == []


def _consumer(committed: dict[TP, int | None], starts: dict[TP, int],
              acked: dict[TP, list[int]]) -> SeekingConsumer:
    consumer = object.__new__(SeekingConsumer)
    consumer._committed_offset = defaultdict(lambda: None, committed)
    consumer._start_offsets = dict(starts)
    consumer._acked = defaultdict(list, {tp: list(offsets) for tp, offsets in acked.items()})
    consumer._acked_index = defaultdict(set, {tp: set(offsets) for tp, offsets in acked.items()})
    consumer._holes = {}
    return consumer


SOCIAL = TP("dept.social.enterprise", 3)


def test_an_offset_one_past_the_committed_one_is_not_committed_over() -> None:
    """The fault suite's loss: 48 committed, 48 never acknowledged, 49.. acknowledged."""
    consumer = _consumer({SOCIAL: 48}, {SOCIAL: 0}, {SOCIAL: [50, 49, 51]})
    assert consumer._new_offset(SOCIAL) is None
    consumer._acked[SOCIAL].append(48)
    consumer._acked_index[SOCIAL].add(48)
    assert consumer._new_offset(SOCIAL) == 52
    assert consumer._acked[SOCIAL] == [] and consumer._acked_index[SOCIAL] == set()


def test_a_never_committed_partition_commits_from_its_first_offset_only() -> None:
    consumer = _consumer({}, {SOCIAL: 0}, {SOCIAL: [5, 6, 7]})
    assert consumer._new_offset(SOCIAL) is None  # 0..4 not acknowledged yet
    consumer = _consumer({}, {SOCIAL: 0}, {SOCIAL: [0, 1, 2, 4]})
    assert consumer._new_offset(SOCIAL) == 3
    assert consumer._acked[SOCIAL] == [4]


def test_a_partition_without_a_known_start_is_not_committed() -> None:
    assert _consumer({}, {}, {SOCIAL: [0, 1]})._new_offset(SOCIAL) is None


def test_a_committed_offset_deleted_by_retention_gives_way_to_the_first_offset() -> None:
    consumer = _consumer({SOCIAL: 10}, {SOCIAL: 40}, {SOCIAL: [40, 41]})
    assert consumer._new_offset(SOCIAL) == 42


def test_source_partitions_have_no_read_offset_changelogs_keep_theirs() -> None:
    offsets = SourceReadOffsets(lambda tp: tp.topic == CHANGELOG)
    offsets[SOCIAL] = 107
    offsets[TP(CHANGELOG, 1)] = 12
    assert offsets[SOCIAL] is None  # nothing is dropped as "already read", no gap is made
    assert offsets[TP(CHANGELOG, 1)] == 12
    assert offsets[TP(CHANGELOG, 2)] is None
    offsets.pop(SOCIAL)  # Faust's own bookkeeping still works on it


class _Flow:
    @staticmethod
    def is_active() -> bool:
        return True


class _App:
    flow_control = _Flow()


def test_a_message_skipped_while_later_ones_were_folded_is_reported_once(monkeypatch) -> None:
    """The fault suite's held commit: 112 never reached the agent, 113.. did."""
    clock = [1000.0]
    monkeypatch.setattr(positions.time, "monotonic", lambda: clock[0])
    consumer = _consumer({SOCIAL: 112}, {SOCIAL: 0}, {SOCIAL: [113, 114]})
    log = _Log()
    log.warning = log.info  # type: ignore[method-assign]
    vars(consumer).update(flow_active=True, app=_App(), log=log, assignment=lambda: {SOCIAL})
    assert consumer._new_offset(SOCIAL) is None  # seen: the grace period starts
    clock[0] += positions.HOLE_GRACE_SECONDS - 1
    assert consumer._new_offset(SOCIAL) is None
    assert log.lines == []  # not yet
    clock[0] += 2
    assert consumer._new_offset(SOCIAL) is None
    assert len(log.lines) == 1 and "offset 112 was never processed" in log.lines[0]
    clock[0] += 60
    assert consumer._new_offset(SOCIAL) is None
    assert len(log.lines) == 1  # once
    consumer._acked[SOCIAL].append(112)  # read again (after a restart) and folded
    consumer._acked_index[SOCIAL].add(112)
    assert consumer._new_offset(SOCIAL) == 115
    assert consumer._holes == {}


def test_late_acknowledgements_of_a_revoked_partition_are_no_hole(monkeypatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(positions.time, "monotonic", lambda: clock[0])
    consumer = _consumer({}, {SOCIAL: 0}, {SOCIAL: [57, 58]})
    log = _Log()
    log.warning = log.info  # type: ignore[method-assign]
    vars(consumer).update(flow_active=True, app=_App(), log=log,
                          assignment=lambda: set())  # revoked: another worker has it
    assert consumer._new_offset(SOCIAL) is None
    clock[0] += positions.HOLE_GRACE_SECONDS + 1
    assert consumer._new_offset(SOCIAL) is None
    assert log.lines == []


def test_a_revoked_partition_forgets_its_start_until_the_next_seek(monkeypatch) -> None:
    async def revoked(self: Any, tps: set[TP]) -> None:
        return None

    monkeypatch.setattr(faust_aiokafka.Consumer, "on_partitions_revoked", revoked)
    consumer = _consumer({}, {SOCIAL: 0, TP("dept.tax.enterprise", 1): 0}, {SOCIAL: [0, 1]})
    asyncio.run(consumer.on_partitions_revoked({SOCIAL}))
    assert consumer._new_offset(SOCIAL) is None  # neither committed nor known: wait
    assert consumer._start_offsets == {TP("dept.tax.enterprise", 1): 0}
    consumer.note_starts({SOCIAL: 0})
    assert consumer._new_offset(SOCIAL) == 2
