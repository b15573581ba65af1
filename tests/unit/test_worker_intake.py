"""The join's intake: source records in bulk from the fetch, handed out per generation, and
acknowledged per batch only in the generation they were taken in.

(The Kafka-level evidence is tests/integration/test_worker_join.py and the fault suite; these
check the decisions of ``exchange.worker.intake`` with Faust's side replaced.)
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any, NamedTuple

from faust.types import TP

from exchange.worker.intake import Intake, JoinConsumer

TAX = "dept.tax.enterprise"
MARKET = "dept.market.enterprise"


class Record(NamedTuple):
    topic: str
    partition: int
    offset: int


def _records(topic: str, partition: int, offsets: range) -> list[Record]:
    return [Record(topic, partition, o) for o in offsets]


def test_a_batch_is_what_arrived_first_up_to_the_batch_size() -> None:
    intake = Intake("enterprise", [TAX, MARKET], capacity=100)
    intake.put(1, _records(TAX, 0, range(0, 3)))
    intake.put(1, _records(MARKET, 2, range(10, 14)))
    assert len(intake) == 7
    first = intake.take(5, generation=1)
    assert [(r.topic, r.offset) for r in first] == [(TAX, 0), (TAX, 1), (TAX, 2),
                                                    (MARKET, 10), (MARKET, 11)]
    assert [r.offset for r in intake.take(5, generation=1)] == [12, 13]
    assert len(intake) == 0 and intake.take(5, generation=1) == []


def test_records_of_an_older_generation_are_dropped_not_handed_out() -> None:
    """Fetched before a rebalance: the partition may be elsewhere, or its table restoring."""
    intake = Intake("enterprise", [TAX], capacity=100)
    intake.put(4, _records(TAX, 0, range(0, 3)))
    intake.put(5, _records(TAX, 0, range(0, 2)))  # read again after the rebalance's seek
    batch = intake.take(10, generation=5)
    assert [r.offset for r in batch] == [0, 1]
    assert intake.dropped == 3 and len(intake) == 0


def test_a_full_intake_holds_the_fetch_until_the_join_takes() -> None:
    intake = Intake("enterprise", [TAX], capacity=4)
    intake.put(1, _records(TAX, 0, range(0, 3)))
    assert not intake.full
    intake.put(1, _records(TAX, 0, range(3, 6)))
    assert intake.full
    intake.take(1, generation=1)
    assert intake.full  # 5 still waiting
    intake.take(2, generation=1)
    assert not intake.full


def test_clearing_forgets_what_was_not_taken_and_makes_room() -> None:
    intake = Intake("enterprise", [TAX], capacity=2)
    intake.put(1, _records(TAX, 0, range(0, 5)))
    intake.clear()
    assert len(intake) == 0 and not intake.full and intake.take(10, generation=1) == []


def test_waiting_for_records_returns_false_when_none_came() -> None:
    async def scenario() -> tuple[bool, bool]:
        intake = Intake("enterprise", [TAX], capacity=10)
        idle = await intake.wait(timeout=0.01)
        asyncio.get_running_loop().call_later(0.01, intake.put, 1, _records(TAX, 0, range(1)))
        woken = await intake.wait(timeout=5.0)
        return idle, woken

    assert asyncio.run(scenario()) == (False, True)


class _App:
    def __init__(self, generation: int) -> None:
        self.consumer_generation_id = generation


def _consumer(generation: int, committed: dict[TP, int | None]) -> Any:
    consumer: Any = object.__new__(JoinConsumer)
    consumer.app = _App(generation)
    consumer._committed_offset = defaultdict(lambda: None, committed)
    consumer._acked = defaultdict(list)
    consumer._acked_index = defaultdict(set)
    consumer._n_acked = 0
    consumer._unacked_messages = set()
    consumer._waiting_for_ack = None
    return consumer


def test_a_batch_is_acknowledged_in_bulk_and_a_rebalance_waits_for_it() -> None:
    consumer = _consumer(7, {TP(TAX, 0): 2})
    batch = _records(TAX, 0, range(0, 5)) + _records(MARKET, 1, range(8, 10))
    token = consumer.track_batch(len(batch))
    assert token in consumer._unacked_messages  # Faust's wait_empty waits for it
    assert consumer.ack_batch(token, batch) == 5  # 0 and 1 are below the commit
    assert consumer._acked[TP(TAX, 0)] == [2, 3, 4]
    assert consumer._acked[TP(MARKET, 1)] == [8, 9]
    assert consumer._n_acked == 5
    assert token.acked and token not in consumer._unacked_messages
    # A redelivered batch adds nothing.
    again = consumer.track_batch(len(batch))
    assert consumer.ack_batch(again, batch) == 0 and consumer._acked[TP(TAX, 0)] == [2, 3, 4]


def test_a_batch_that_outlived_its_generation_is_not_acknowledged() -> None:
    """Its partitions may be another worker's now: they are read again from the commit."""
    consumer = _consumer(7, {})
    batch = _records(TAX, 0, range(0, 3))
    token = consumer.track_batch(len(batch))
    consumer.app.consumer_generation_id = 8
    assert consumer.ack_batch(token, batch) == 0
    assert consumer._acked[TP(TAX, 0)] == [] and consumer._n_acked == 0
    assert token not in consumer._unacked_messages


def test_a_stopped_batch_is_released_without_acknowledgement() -> None:
    consumer = _consumer(1, {})
    token = consumer.track_batch(3)
    consumer.release_batch(token)
    assert token not in consumer._unacked_messages and consumer._n_acked == 0
    assert not consumer._acked
