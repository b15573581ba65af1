"""The three-broker local Kafka for the fault suite: starting it, broker faults, topic resets.

``deploy/kafka/localkafka.py`` is loaded by :func:`exchange.localbroker.load_localkafka`,
the one module object ``tests/conftest.py`` and ``deploy/kafka/secure.py`` share too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from exchange.localbroker import load_localkafka
from exchange.schemas import SchemaRegistry
from exchange.settings import Settings
from exchange.topics import bus_topic_specs, new_topic

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

    Right after a delete, a broker's metadata may still show the deleted topics, with their
    leaders, while another's does not. Asked what exists, such a broker once had the bus
    topics left uncreated (a scenario waited 120 s for them), and once had them look ready,
    so that the scenario's publishers auto-created them with one partition. So the topics
    are created by name, whatever the listing says (the controller refuses a topic that
    exists), and are ready only when described with a topic id that none of the deleted
    topics had, the bus's partition count, leaders and full ISRs. A topic auto-created
    meanwhile (a new id, another partition count) is deleted, to be created again.
    """
    from kafka.admin import KafkaAdminClient
    from kafka.errors import TopicAlreadyExistsError

    specs = bus_topic_specs(registry)
    names = [spec.name for spec in specs]
    admin = KafkaAdminClient(**settings.kafka_client_options(), request_timeout_ms=30_000)
    try:
        deadline = time.monotonic() + timeout
        doomed = sorted(t for t in admin.list_topics() if not t.startswith("__"))
        old_ids = {t.get("topic_id") for t in admin.describe_topics(doomed)} if doomed else set()
        _delete(admin, doomed, deadline)
        waiting = names
        while True:
            for spec in specs:  # each round asks only for what is not ready yet
                if spec.name in waiting:
                    with contextlib.suppress(TopicAlreadyExistsError):
                        admin.create_topics([new_topic(spec, settings.topic_partitions,
                                                       settings.topic_replication)])
            described = {t.get("name"): t for t in admin.describe_topics(names)}
            waiting = [n for n in names if not _ready(described.get(n), old_ids, settings)]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"bus topics not ready within {timeout:.0f} s: {waiting}")
            # auto-created meanwhile, with the broker's partition count: again, as the bus has it
            misshapen = [n for n in waiting if _fresh(described.get(n), old_ids)
                         and len(described[n].get("partitions") or ()) != settings.topic_partitions]
            _delete(admin, misshapen, deadline)
            time.sleep(0.5)
    finally:
        admin.close()


def _fresh(topic: dict[str, Any] | None, old_ids: set[Any]) -> bool:
    """A topic created since the reset's delete (an id none of the deleted topics had)."""
    return (topic is not None and not topic.get("error_code")
            and topic.get("topic_id") not in old_ids)


def _ready(topic: dict[str, Any] | None, old_ids: set[Any], settings: Settings) -> bool:
    """A bus topic created afresh, as the bus lays it out, led and fully replicated."""
    if topic is None or not _fresh(topic, old_ids):
        return False
    partitions = topic.get("partitions") or []
    return len(partitions) == settings.topic_partitions and all(
        p.get("leader_id", -1) >= 0 and len(p.get("isr_nodes", ())) >= settings.topic_replication
        for p in partitions)


def _delete(admin: Any, topics: list[str], deadline: float) -> None:
    """Delete ``topics`` and wait until the admin's broker no longer lists them."""
    if not topics:
        return
    admin.delete_topics(topics, timeout_ms=60_000)
    while set(topics) & set(admin.list_topics()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics not deleted in time: {topics}")
        time.sleep(0.5)
