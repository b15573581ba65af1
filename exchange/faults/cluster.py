"""The three-broker local Kafka for the fault suite: starting it, broker faults, topic resets.

``deploy/kafka/localkafka.py`` is loaded by :func:`exchange.localbroker.load_localkafka`,
the one module object ``tests/conftest.py`` and ``deploy/kafka/secure.py`` share too.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from exchange.localbroker import load_localkafka
from exchange.schemas import SchemaRegistry
from exchange.settings import Settings
from exchange.topics import ensure_bus_topics, exchange_topics

#: Replication of every bus topic in the suite; ``min.insync.replicas`` is then 2.
REPLICATION = 3


def start_cluster(data_dir: Path, timeout: float = 240.0) -> Any:
    """Three brokers on free loopback ports under ``data_dir``; stopped again if start fails."""
    cluster = load_localkafka().LocalKafka(data_dir, size=3, port=0, die_with_parent=True)
    try:
        cluster.start(timeout=timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def clean_restart(cluster: Any, node_id: int, timeout: float = 180.0) -> float:
    """SIGTERM one broker (controlled shutdown), wait for its exit, start it again.

    Returns the seconds the node was away. LocalKafka only offers ``kill`` (SIGKILL), so the
    clean stop is done here on the node's own pid.
    """
    node = cluster.node(node_id)
    began = time.monotonic()
    if node.running and node.pid is not None:
        os.kill(node.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while node.running:
            if time.monotonic() > deadline:
                cluster.kill(node_id)  # a broker that ignores SIGTERM is killed after all
                break
            cluster._reap(node)  # noqa: SLF001 - collect our own child, or it stays a zombie
            time.sleep(0.2)
    cluster.restart(node_id, timeout)
    return time.monotonic() - began


def reset_bus_topics(settings: Settings, registry: SchemaRegistry,
                     timeout: float = 120.0) -> None:
    """Delete every topic but Kafka's own (``__*``), then create the bus topics afresh.

    Each scenario starts from empty topics, so its counts and its reference are its own;
    the changelogs of the previous scenario's worker go too.
    """
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(**settings.kafka_client_options(), request_timeout_ms=30_000)
    try:
        doomed = sorted(t for t in admin.list_topics() if not t.startswith("__"))
        if doomed:
            admin.delete_topics(doomed, timeout_ms=60_000)
        deadline = time.monotonic() + timeout
        while set(doomed) & set(admin.list_topics()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics not deleted within {timeout:.0f} s: {doomed}")
            time.sleep(0.5)
    finally:
        admin.close()
    # A broker's metadata may still list a deleted topic after another's no longer does, and
    # ensure_bus_topics creates only the topics that its broker does not list: so a round may
    # create none of them (seen once in CI: a scenario waited 120 s for topics never created).
    # Each round creates what is missing, then waits a while for leaders and full ISRs.
    topics = sorted(set(registry.topics()) | {s.name for s in exchange_topics()})
    deadline = time.monotonic() + timeout
    while True:
        ensure_bus_topics(settings, registry)
        try:
            wait_for_leaders(settings, topics, min(10.0, max(deadline - time.monotonic(), 0.0)))
            return
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise


def wait_for_leaders(settings: Settings, topics: list[str], timeout: float) -> None:
    """Poll until every partition of ``topics`` has a leader and a full in-sync replica set."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(**settings.kafka_client_options(), request_timeout_ms=30_000)
    try:
        deadline = time.monotonic() + timeout
        while True:
            described = admin.describe_topics(topics)
            bad = [t.get("name") for t in described
                   if t.get("error_code") or not t.get("partitions")
                   or any(p.get("leader_id", -1) < 0
                          or len(p.get("isr_nodes", ())) < settings.topic_replication
                          for p in t["partitions"])]
            if not bad:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"partitions without leader or full ISR: {bad}")
            time.sleep(0.5)
    finally:
        admin.close()
