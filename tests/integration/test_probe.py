"""The end-to-end probe through a real worker: its histogram fills; a stopped worker shows."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from consumers.ops.probe import Probe, ProbeMetrics
from exchange.schemas import default_registry
from exchange.settings import load_settings
from exchange.topics import ensure_bus_topics
from exchange.worker.harness import WorkerProcess, wait_until

pytestmark = pytest.mark.integration


def _count(registry: CollectorRegistry, name: str) -> float:
    value = registry.get_sample_value(name)
    return 0.0 if value is None else value


def test_probe_round_trips_through_the_worker_and_counts_losses(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = load_settings(kafka_bootstrap=kafka_bootstrap)
    ensure_bus_topics(settings, default_registry())
    registry = CollectorRegistry()
    probe = Probe(settings, ProbeMetrics.create(registry), timeout_s=5.0)
    worker = WorkerProcess(kafka_bootstrap, f"test-probe-{uuid.uuid4().hex[:8]}", tmp_path)
    worker.start()
    try:
        probe.tick()
        wait_until(lambda: _count(registry, "exchange_probe_round_trip_seconds_count")
                   >= settings.topic_partitions, 180,
                   lambda: probe.collect(500) if worker.alive() else pytest.fail(worker.log_tail()),
                   lambda: f"probe replies from every partition\n{worker.log_tail()}")
        assert _count(registry, "exchange_probe_lost_total") == 0
        assert _count(registry, "exchange_probe_round_trip_seconds_sum") > 0
        worker.stop()
        probe.tick()  # nobody echoes now: these must be counted as lost
        wait_until(lambda: _count(registry, "exchange_probe_lost_total")
                   >= settings.topic_partitions, 60, lambda: probe.collect(500),
                   "the probes sent to a stopped worker counted as lost")
    finally:
        worker.stop()
        probe.close()
