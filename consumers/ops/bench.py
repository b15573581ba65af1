"""Benchmark: the lag exporter's own cost per poll (CPU seconds, wall) and its memory.

Run ``python -m consumers.ops.bench`` (``EXCHANGE_KAFKA_BOOTSTRAP`` to use a running broker,
otherwise a local one is started and stopped). Sets up ``--groups`` consumer groups over
``--groups`` topics whose partitions total ``--partitions``, each group with committed
offsets behind the end, then alternates, round by round with the same admin client:

* ``naive``: the bare loop a minimal exporter would run, ``list_group_offsets`` once per group;
* ``reads``: the reads our exporter needs and nothing else (``list_groups``, one batched
  ``list_group_offsets``, one ``list_partition_offsets``);
* ``exporter``: one full :meth:`LagCollector.poll` (the same reads, plus interpolation tables,
  status windows and every Prometheus series).

CPU is ``time.process_time`` (all threads of this process, kafka-python's I/O thread included).
Medians are printed with their ratio to each baseline, and the resident memory (VmRSS).
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import click
from kafka import KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic, OffsetSpec
from kafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry, generate_latest

from consumers.ops.collector import CollectorConfig, LagCollector
from consumers.ops.metrics import LagMetrics
from consumers.ops.source import AdminOffsetSource
from exchange.kafka_retry import while_unavailable
from exchange.localbroker import local_broker


def rss_mib() -> float:
    """Resident set size of this process now, MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepare(bootstrap: str, groups: int, partitions: int, prefix: str) -> list[str]:
    """Create the topics, write one message per partition, commit offset 0 for each group."""
    per_topic = max(1, partitions // groups)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=60000)
    topics = [f"{prefix}.t{i:03d}" for i in range(groups)]
    admin.create_topics([NewTopic(t, per_topic, 1) for t in topics])
    admin.wait_for_topics(topics, timeout_ms=60000)
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    for t in topics:
        for p in range(per_topic):
            producer.send(t, b"x", partition=p)
    producer.flush()
    producer.close()
    names = [f"{prefix}.g{i:03d}" for i in range(groups)]
    for name, t in zip(names, topics, strict=True):
        offsets = {TopicPartition(t, p): OffsetAndMetadata(0, "", -1) for p in range(per_topic)}
        # A broker just started has no group coordinator until its offsets topic is made.
        while_unavailable(functools.partial(admin.alter_group_offsets, name, offsets), 60)
    admin.close()
    return names


def measure(fn: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def run(bootstrap: str, groups: int, partitions: int, rounds: int) -> None:
    """Set up, alternate the three contenders for ``rounds`` rounds, print medians."""
    prefix = f"bench.lag.{int(time.time())}"
    names = prepare(bootstrap, groups, partitions, prefix)
    rss_before = rss_mib()
    source = AdminOffsetSource({"bootstrap_servers": [bootstrap]}, 30000)
    admin = source._admin  # the very client the exporter uses: same connections, same costs
    registry = CollectorRegistry()
    collector = LagCollector(lambda: source, LagMetrics.create(registry),
                             CollectorConfig(groups=frozenset(names)))

    def naive() -> None:
        for name in names:
            admin.list_group_offsets({name: None})

    def reads() -> None:
        admin.list_groups()
        offsets = admin.list_group_offsets({n: None for n in names})
        tps = {tp for o in offsets.values() for tp in o}
        admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in tps})

    def exporter() -> None:
        report = collector.poll()
        if not report.broker_up or len(report.lags) < partitions * 0.9:
            raise RuntimeError(f"poll saw {len(report.lags)} partitions: {report.errors}")

    contenders: dict[str, Callable[[], None]] = {
        "naive": naive, "reads": reads, "exporter": exporter}
    for fn in contenders.values():
        fn()  # warm-up: connections, coordinator lookups, first series
    cpu: dict[str, list[float]] = {k: [] for k in contenders}
    wall: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            c, w = measure(fn)
            cpu[name].append(c)
            wall[name].append(w)
    scrape_cpu, _ = measure(lambda: generate_latest(registry))
    rss_after = rss_mib()
    series = len(generate_latest(registry).splitlines())
    collector.close()

    med = {k: statistics.median(v) for k, v in cpu.items()}
    click.echo(f"{groups} groups, {len(collector_partitions(names, partitions))} partitions,"
               f" {rounds} rounds (medians)")
    for name in contenders:
        click.echo(f"  {name:9s} cpu {med[name] * 1000:8.1f} ms/poll   wall"
                   f" {statistics.median(wall[name]) * 1000:8.1f} ms/poll")
    click.echo(f"  exporter/naive cpu ratio {med['exporter'] / med['naive']:.2f},"
               f" exporter/reads cpu ratio {med['exporter'] / med['reads']:.2f}")
    click.echo(f"  rendering /metrics ({series} lines): {scrape_cpu * 1000:.1f} ms cpu")
    click.echo(f"  RSS {rss_before:.1f} MiB before the client, {rss_after:.1f} MiB after"
               f" ({rss_after - rss_before:+.1f} MiB: client, tables, windows, series)")


def collector_partitions(names: list[str], partitions: int) -> range:
    """The partition count actually created (whole partitions per topic)."""
    return range(max(1, partitions // len(names)) * len(names))


@click.command()
@click.option("--groups", default=50, show_default=True)
@click.option("--partitions", default=500, show_default=True)
@click.option("--rounds", default=15, show_default=True)
def main(groups: int, partitions: int, rounds: int) -> None:
    """Measure the lag exporter's CPU per poll and memory against bare-read baselines."""
    with local_broker(log=lambda m: click.echo(m, err=True)) as bootstrap:
        run(bootstrap, groups, partitions, rounds)


if __name__ == "__main__":
    main()
