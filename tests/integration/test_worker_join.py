"""The join through the real broker: publishers, the worker as a process, the output topics.

Simulated traffic for hundreds of enterprises and properties, shuffled and duplicated, with
invalid events from a producer that does not validate; the worker is killed with SIGKILL
mid-way, restarted, stopped cleanly, more is published while it is down, and it is started
again; the records read back must equal the reference fold of the same messages, and every
invalid event must be in the dead-letter topic with its reason.
"""

from __future__ import annotations

import urllib.request
import uuid
from pathlib import Path

import pytest

from exchange.localbroker import load_localkafka
from exchange.schemas import default_registry
from exchange.settings import load_settings
from exchange.topics import ensure_bus_topics
from exchange.worker.app import JOINS, app_id_for, join_sources
from exchange.worker.bench_kit import start_at_end, worker_sources
from exchange.worker.harness import (
    OutputReader,
    WorkerProcess,
    differences,
    reference_of,
    send_raw,
    wait_until,
    wire_messages,
)
from producers.publisher import DepartmentPublisher
from producers.simulator import simulate

pytestmark = pytest.mark.integration


def _publish(bootstrap: str, messages: list, events: dict) -> None:
    """Valid events through the department publisher, invalid ones raw."""
    settings = load_settings(kafka_bootstrap=bootstrap)
    with DepartmentPublisher(settings) as publisher:
        for m in messages:
            if m.invalid_reason is None:
                e = events[m.event_id, m.invalid_reason]
                publisher.publish(e.event_type, e.record)
    bad = [m for m in messages if m.invalid_reason is not None]
    assert send_raw(bootstrap, bad) == len(bad)


def _table_records(port: int) -> dict[str, float]:
    """The worker's ``exchange_table_records`` gauges, by kind."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {sample.labels["kind"]: sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "exchange_table_records" for sample in family.samples}


def _start_at_end(bootstrap: str, group: str, topics: list[str]) -> None:
    """The (new) ``group`` reads only what is published on ``topics`` from now on."""
    start_at_end({"bootstrap_servers": bootstrap.split(",")}, group, topics)


def _step(reader: OutputReader, worker: WorkerProcess) -> None:
    assert worker.alive(), f"the worker died:\n{worker.log_tail()}"
    reader.poll()


def test_join_survives_kill_and_stop_and_equals_the_reference(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    registry = default_registry()
    ensure_bus_topics(load_settings(kafka_bootstrap=kafka_bootstrap), registry)
    simulated = list(simulate(200, 120, seed=4242, shuffle=True, duplicate_rate=0.1,
                              invalid_rate=0.03))
    events = {(e.record["envelope"]["event_id"], e.invalid_reason): e for e in simulated}
    messages = wire_messages(simulated, registry)
    assert len(messages) > 1000 and any(m.invalid_reason for m in messages)
    third = len(messages) // 3
    parts = [messages[:third], messages[third:2 * third], messages[2 * third:]]
    ref = reference_of(messages, registry)
    port = load_localkafka().free_ports(1)[0]
    app_id = f"test-join-{uuid.uuid4().hex[:8]}"
    # The table gauges scan the table every second: they read what the join wrote.
    worker = WorkerProcess(kafka_bootstrap, app_id, tmp_path,
                           {"EXCHANGE_WORKER_METRICS_PORT": str(port),
                            "EXCHANGE_WORKER_STATS_INTERVAL_SECONDS": "1"})
    reader = OutputReader(kafka_bootstrap, from_end=True)
    _start_at_end(kafka_bootstrap, app_id, worker_sources(registry))  # this test's only
    try:
        for part, stop in ((parts[0], worker.kill), (parts[1], worker.stop)):
            _publish(kafka_bootstrap, part, events)
            worker.start()
            key = next(iter(reference_of(part, registry).enterprises))
            wait_until(lambda k=key: k in reader.records["enterprise"], 180,  # type: ignore[misc]
                       lambda: _step(reader, worker),
                       lambda: f"a record from this part\n{worker.log_tail()}")
            # First a kill -9 mid-stream (no clean shutdown, no final commit), then a clean
            # SIGTERM stop; the third part is published while the worker is down.
            stop()
        _publish(kafka_bootstrap, parts[2], events)
        worker.start()
        # A break that fastavro's writer coerces away (a string written as boolean true)
        # leaves valid bytes: those are applied, by the reference and the worker alike.
        invalid_ids = {dl.incoming.headers.get("event_id", b"").decode()
                       for dl in ref.dead_letters}
        broken = {m.event_id for m in messages if m.invalid_reason is not None}
        coerced = broken - invalid_ids
        assert len(coerced) <= len(broken) // 10, coerced

        def converged() -> bool:
            lettered = {d.get("original_event_id") for d in reader.dead_letters}
            return not any(differences(ref, reader).values()) and invalid_ids <= lettered

        wait_until(converged, 300, lambda: _step(reader, worker),
                   lambda: f"records equal the reference ({differences(ref, reader)} differ) "
                   f"and every invalid event is dead-lettered\n{worker.log_tail()}")
        expected = {"enterprise": len(ref.enterprises), "property": len(ref.properties)}
        wait_until(lambda: _table_records(port) == expected, 60, lambda: _step(reader, worker),
                   lambda: f"table gauges {_table_records(port)} to show {expected}\n"
                   f"{worker.log_tail()}")
        assert worker.alive(), worker.log_tail()
    finally:
        worker.stop()
        reader.close()
    assert len(ref.enterprises) >= 200 and len(ref.properties) >= 120
    dead = {d.get("original_event_id"): d for d in reader.dead_letters}
    for event_id in invalid_ids:
        letter = dead[event_id]
        assert letter["reason"] and letter["error_class"] in {
            "DecodeError", "ValidationError", "UnknownSchema"}, letter
        assert letter["original_topic"].startswith("dept.")


def test_worker_split_by_join_equals_the_reference(kafka_bootstrap: str, tmp_path: Path) -> None:
    """``exchange worker --join enterprise`` and ``--join property`` as two processes (each its
    own consumer group, the foreign-key join between them through the repartition topics):
    the same records as the reference fold, one process killed with SIGKILL on the way."""
    registry = default_registry()
    ensure_bus_topics(load_settings(kafka_bootstrap=kafka_bootstrap), registry)
    simulated = list(simulate(120, 80, seed=5151, shuffle=True, duplicate_rate=0.1))
    events = {(e.record["envelope"]["event_id"], e.invalid_reason): e for e in simulated}
    messages = wire_messages(simulated, registry)
    half = len(messages) // 2
    ref = reference_of(messages, registry)
    app_id = f"test-split-{uuid.uuid4().hex[:8]}"
    workers = [WorkerProcess(kafka_bootstrap, app_id, tmp_path, joins=(kind,)) for kind in JOINS]
    reader = OutputReader(kafka_bootstrap, from_end=True)
    for kind in JOINS:  # the groups read only what this test publishes
        _start_at_end(kafka_bootstrap, app_id_for(app_id, (kind,)), join_sources(registry, kind))

    def step() -> None:
        for worker in workers:
            _step(reader, worker)

    def logs() -> str:
        return "\n".join(worker.log_tail() for worker in workers)

    try:
        _publish(kafka_bootstrap, messages[:half], events)
        for worker in workers:
            worker.start()
        unit = next(iter(reference_of(messages[:half], registry).properties))
        wait_until(lambda: unit in reader.records["property"], 180, step,
                   lambda: f"a property record of the first half\n{logs()}")
        workers[1].kill()
        _publish(kafka_bootstrap, messages[half:], events)
        workers[1].start()
        wait_until(lambda: not any(differences(ref, reader).values()), 300, step,
                   lambda: f"records equal the reference ({differences(ref, reader)} differ)"
                   f"\n{logs()}")
    finally:
        for worker in workers:
            worker.stop()
        reader.close()
    assert len(ref.enterprises) >= 120 and len(ref.properties) >= 80
    # the foreign-key join crossed between the processes: owners' names on their units
    assert any(record.get("owner_enterprise") for record in ref.properties.values())
