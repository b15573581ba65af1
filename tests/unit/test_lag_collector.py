"""The collector against a scripted offset source: metrics, bad input, recovery (no network)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from kafka import TopicPartition
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    UnknownTopicOrPartitionError,
)
from prometheus_client import CollectorRegistry

from consumers.ops.collector import CollectorConfig, LagCollector
from consumers.ops.metrics import LagMetrics
from consumers.ops.status import Status

pytestmark = pytest.mark.unit

T0, T1 = TopicPartition("dept.tax.enterprise", 0), TopicPartition("dept.tax.enterprise", 1)


class FakeSource:
    """Committed and end offsets held in dicts; ``down`` makes every call fail."""

    def __init__(self) -> None:
        self.members: dict[str, bool] = {"g": True}
        self.offsets: dict[str, dict[TopicPartition, int]] = {"g": {T0: 5, T1: 0}}
        self.ends: dict[TopicPartition, int] = {T0: 5, T1: 3}
        self.down = False
        self.bad_groups: set[str] = set()

    def _check(self) -> None:
        if self.down:
            raise KafkaConnectionError("connection refused")

    def groups(self) -> dict[str, bool]:
        self._check()
        return dict(self.members)

    def committed(self, groups: Iterable[str]) -> dict[str, dict[TopicPartition, int]]:
        self._check()
        wanted = list(groups)
        if self.bad_groups & set(wanted):
            raise GroupAuthorizationFailedError("not allowed")
        return {g: dict(self.offsets.get(g, {})) for g in wanted}

    def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        self._check()
        wanted = set(partitions)
        if wanted - set(self.ends):
            raise UnknownTopicOrPartitionError("gone")
        return {tp: self.ends[tp] for tp in wanted}

    def existing(self, partitions: Iterable[TopicPartition]) -> set[TopicPartition]:
        return set(partitions) & set(self.ends)

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(config: CollectorConfig | None = None
         ) -> tuple[LagCollector, FakeSource, Clock, CollectorRegistry]:
    config = config or CollectorConfig(window_seconds=10.0)
    registry, source, clock = CollectorRegistry(), FakeSource(), Clock()
    return LagCollector(lambda: source, LagMetrics.create(registry), config, clock), source, \
        clock, registry


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_exports_lag_and_status() -> None:
    collector, _, _, registry = make()
    report = collector.poll()
    assert report.statuses == {"g": Status.OK}
    assert value(registry, "kafka_consumergroup_lag", group="g", topic=T1.topic,
                 partition="1") == 3
    assert value(registry, "exchange_lag_group_status", group="g", status="OK") == 1
    assert value(registry, "exchange_lag_group_status", group="g", status="ERR") == 0
    assert value(registry, "exchange_lag_broker_up") == 1


def test_time_lag_grows_while_the_group_stands_still() -> None:
    collector, source, clock, registry = make()
    seen = []
    for _ in range(4):
        collector.poll()
        seen.append(value(registry, "kafka_consumergroup_lag_seconds", group="g",
                          topic=T1.topic, partition="1"))
        clock.now += 5
        source.ends[T1] += 2
    assert seen[0] is not None and all(b > a for a, b in zip(seen, seen[1:], strict=False))


def test_broker_down_then_back() -> None:
    collector, source, clock, registry = make()
    collector.poll()
    source.down = True
    report = collector.poll()
    assert not report.broker_up and report.statuses == {"g": Status.ERR}
    assert value(registry, "exchange_lag_broker_up") == 0
    assert value(registry, "exchange_lag_poll_errors_total", reason="broker_unreachable") == 1
    assert value(registry, "kafka_consumergroup_lag", group="g", topic=T1.topic,
                 partition="1") is None  # no stale numbers while blind
    source.down = False
    clock.now += 1
    assert collector.poll().statuses == {"g": Status.OK}
    assert value(registry, "exchange_lag_broker_up") == 1


def test_unknown_group_is_err_and_counted() -> None:
    collector, _, _, registry = make(CollectorConfig(groups=frozenset({"g", "nope"})))
    report = collector.poll()
    assert report.statuses == {"g": Status.OK, "nope": Status.ERR}
    assert value(registry, "exchange_lag_poll_errors_total", reason="unknown_group") == 1


def test_deleted_partition_is_dropped_and_counted() -> None:
    collector, source, _, registry = make()
    collector.poll()
    del source.ends[T1]
    report = collector.poll()
    assert report.statuses == {"g": Status.OK}
    assert value(registry, "exchange_lag_poll_errors_total", reason="unknown_partition") == 1
    assert value(registry, "kafka_consumergroup_lag", group="g", topic=T1.topic,
                 partition="1") is None
    assert value(registry, "kafka_consumergroup_lag", group="g", topic=T0.topic,
                 partition="0") == 0


def test_one_unreadable_group_does_not_blind_the_others() -> None:
    collector, source, _, registry = make()
    source.members["h"] = True
    source.offsets["h"] = {T0: 1}
    source.bad_groups = {"h"}
    report = collector.poll()
    assert report.statuses == {"g": Status.OK, "h": Status.ERR}
    assert value(registry, "exchange_lag_poll_errors_total", reason="group_fetch_failed") == 1


def test_vanished_group_loses_its_series() -> None:
    collector, source, _, registry = make()
    collector.poll()
    del source.members["g"]
    collector.poll()
    assert value(registry, "exchange_lag_group_status", group="g", status="OK") is None


def test_stop_after_a_window_without_commits_or_members() -> None:
    collector, source, clock, _ = make()
    source.members["g"] = False
    statuses = []
    for _ in range(4):
        statuses.append(collector.poll().statuses["g"])
        clock.now += 5
    assert statuses[:2] == [Status.OK, Status.OK] and statuses[-1] is Status.STOP
