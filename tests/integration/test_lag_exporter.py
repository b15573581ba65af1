"""The lag exporter against the real broker: lag N, growing time lag, STOP, STALL, back to OK;
an unreachable broker, a deleted topic, and the ``exchange lag`` command serving HTTP."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from prometheus_client import CollectorRegistry

from consumers.ops.collector import CollectorConfig, LagCollector
from consumers.ops.metrics import LagMetrics
from consumers.ops.source import AdminOffsetSource
from consumers.ops.status import Status

pytestmark = pytest.mark.integration

WINDOW = 3.0  # seconds: the status rules need a full window of evidence
N = 20


def until(what: str, check: Callable[[], Any], timeout: float = 60.0, every: float = 0.3) -> Any:
    """Poll ``check`` until truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


@pytest.fixture
def topic(kafka_bootstrap: str) -> Iterator[str]:
    name = f"test.lag.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(name, 2, 1)])
    admin.wait_for_topics([name])
    try:
        yield name
    finally:
        with contextlib.suppress(Exception):  # the deleted-topic test removes it itself
            admin.delete_topics([name])
        admin.close()


def produce(bootstrap: str, topic: str, count: int) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for i in range(count):
        producer.send(topic, b"x", partition=i % 2)
    producer.flush()
    producer.close()


def consumer(bootstrap: str, topic: str, group: str) -> KafkaConsumer:
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                      auto_offset_reset="earliest", metadata_max_age_ms=1000)
    c.subscribe([topic])
    return c


def drain(c: KafkaConsumer, expected: int) -> None:
    """Consume until ``expected`` messages arrived, then commit."""
    got = [0]

    def step() -> bool:
        got[0] += sum(len(v) for v in c.poll(timeout_ms=300).values())
        return got[0] >= expected

    until(f"{expected} messages consumed", step)
    c.commit()


def collector_for(bootstrap: str, group: str) -> tuple[LagCollector, CollectorRegistry]:
    registry = CollectorRegistry()
    collector = LagCollector(
        lambda: AdminOffsetSource({"bootstrap_servers": [bootstrap]}, 5000),
        LagMetrics.create(registry),
        CollectorConfig(window_seconds=WINDOW, groups=frozenset({group})),
    )
    return collector, registry


def total_lag(report: Any, group: str) -> int:
    return sum(v for (g, _), v in report.lags.items() if g == group)


def test_stop_stall_and_recovery(kafka_bootstrap: str, topic: str) -> None:
    group = f"lag-{uuid.uuid4().hex[:8]}"
    produce(kafka_bootstrap, topic, 4)
    c = consumer(kafka_bootstrap, topic, group)
    drain(c, 4)
    c.close()  # the group stops: no member, no commit
    collector, registry = collector_for(kafka_bootstrap, group)
    try:
        until("lag 0 seen", lambda: total_lag(collector.poll(), group) == 0 and
              collector.poll().statuses[group] is Status.OK)
        produce(kafka_bootstrap, topic, N)
        until(f"lag {N}", lambda: total_lag(collector.poll(), group) == N)
        tp = TopicPartition(topic, 0)
        first = collector.poll().lag_seconds[(group, tp)]
        until("a growing time lag",
              lambda: collector.poll().lag_seconds[(group, tp)] > first + 0.5)
        assert registry.get_sample_value(
            "kafka_consumergroup_lag", {"group": group, "topic": topic, "partition": "0"}
        ) == N // 2
        until("STOP (no member, no commit, lag present)",
              lambda: collector.poll().statuses[group] is Status.STOP)
        assert registry.get_sample_value(
            "exchange_lag_group_status", {"group": group, "status": "STOP"}) == 1

        # A member that holds its partitions paused: present, but the offset does not move.
        stuck = consumer(kafka_bootstrap, topic, group)

        def assigned_and_paused() -> bool:
            stuck.poll(timeout_ms=100, max_records=1)
            if stuck.assignment():
                stuck.pause(*stuck.assignment())
            return bool(stuck.assignment())

        until("partitions assigned", assigned_and_paused)
        for tp in stuck.assignment():  # forget what a poll fetched: nothing was committed
            stuck.seek(tp, stuck.committed(tp))
        until("STALL (member present, offset frozen, lag present)",
              lambda: stuck.poll(timeout_ms=50) == {} and
              collector.poll().statuses[group] is Status.STALL, timeout=90)

        stuck.resume(*stuck.assignment())
        drain(stuck, N)
        until("back to OK with lag 0", lambda: (r := collector.poll()).statuses[group]
              is Status.OK and total_lag(r, group) == 0)
        stuck.close()
    finally:
        collector.close()


def test_unreachable_broker_is_reported_and_the_poll_returns() -> None:
    registry = CollectorRegistry()
    collector = LagCollector(
        lambda: AdminOffsetSource({"bootstrap_servers": ["127.0.0.1:1"]}, 1500),
        LagMetrics.create(registry),
    )
    started = time.monotonic()
    report = collector.poll()
    assert not report.broker_up
    assert time.monotonic() - started < 15
    assert registry.get_sample_value("exchange_lag_broker_up") == 0
    assert registry.get_sample_value(
        "exchange_lag_poll_errors_total", {"reason": "broker_unreachable"}) == 1
    collector.close()


def test_deleted_topic_drops_its_series_and_polling_goes_on(
    kafka_bootstrap: str, topic: str
) -> None:
    group = f"lag-{uuid.uuid4().hex[:8]}"
    produce(kafka_bootstrap, topic, 2)
    c = consumer(kafka_bootstrap, topic, group)
    drain(c, 2)
    c.close()
    collector, registry = collector_for(kafka_bootstrap, group)
    labels = {"group": group, "topic": topic, "partition": "0"}
    try:
        until("lag exported", lambda: collector.poll() and
              registry.get_sample_value("kafka_consumergroup_lag", labels) == 0)
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        admin.delete_topics([topic])
        admin.close()
        until("series dropped", lambda: collector.poll().broker_up and
              registry.get_sample_value("kafka_consumergroup_lag", labels) is None)
        assert registry.get_sample_value("exchange_lag_broker_up") == 1
    finally:
        collector.close()


def test_lag_command_serves_metrics(kafka_bootstrap: str, topic: str, tmp_path: Path) -> None:
    group = f"lag-{uuid.uuid4().hex[:8]}"
    produce(kafka_bootstrap, topic, 6)
    c = consumer(kafka_bootstrap, topic, group)
    drain(c, 6)
    c.close()
    produce(kafka_bootstrap, topic, 4)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "EXCHANGE_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "EXCHANGE_LAG_GROUPS": group}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from exchange.cli import main; main()", "lag",
         "--port", str(port), "--interval", "0.5"],
        env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "lag.log").open("wb"))
    try:
        def scrape() -> str:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    return str(r.read().decode())
            except OSError:
                return ""

        body = until("the lag of the group served", lambda: (t := scrape()) and
                     f'group="{group}"' in t and t)
        lines = [line for line in body.splitlines()
                 if line.startswith("kafka_consumergroup_lag{") and f'group="{group}"' in line]
        assert sum(float(line.rsplit(" ", 1)[1]) for line in lines) == 4
        assert "exchange_lag_broker_up 1.0" in body
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
