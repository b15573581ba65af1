"""The join worker on the secured broker (``deploy/kafka/secure.py``), as its own principal.

Departments publish as themselves, ``exchange worker`` runs as the worker principal (its
security settings from the environment, as in production), and the desk reads the unified
records back: they must equal the reference fold of the same events. The worker's own start
(``ensure_worker_topics`` pre-creating its tables' changelogs) goes through the ACLs too, and
the topics it may create stop at its application id's prefix.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import TopicAuthorizationFailedError

from exchange.errors import DecodeError
from exchange.principals import DESK, WORKER
from exchange.schemas import default_registry
from exchange.settings import Settings
from exchange.topics import ENTERPRISE_OUT, PROPERTY_OUT, RECORD_KINDS, changelog_topic
from exchange.worker import records_codec
from exchange.worker.harness import WorkerProcess, reference_of, wait_until, wire_messages
from producers.publisher import DepartmentPublisher
from producers.simulator import simulate

pytestmark = pytest.mark.integration


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment that makes ``exchange worker`` authenticate as ``settings`` say."""
    assert settings.kafka_username is not None and settings.kafka_password is not None
    return {
        "EXCHANGE_KAFKA_SECURITY_PROTOCOL": settings.kafka_security_protocol,
        "EXCHANGE_KAFKA_SASL_MECHANISM": settings.kafka_sasl_mechanism,
        "EXCHANGE_KAFKA_USERNAME": settings.kafka_username,
        "EXCHANGE_KAFKA_PASSWORD": settings.kafka_password.get_secret_value(),
    }


class DeskReader:
    """The unified topics read as the desk principal; the latest record of the keys asked for."""

    def __init__(self, settings: Settings, keys: set[str]) -> None:
        self.consumer = KafkaConsumer(**settings.kafka_client_options(), group_id=None,
                                      auto_offset_reset="earliest", enable_auto_commit=False)
        self.consumer.assign([TopicPartition(t, p) for t in (ENTERPRISE_OUT, PROPERTY_OUT)
                              for p in range(settings.topic_partitions)])
        self.keys = keys  # other tests' messages on the shared topics are not ours to judge
        self.records: dict[str, dict[str, dict[str, Any]]] = {"enterprise": {}, "property": {}}

    def poll(self) -> None:
        for messages in self.consumer.poll(timeout_ms=500).values():
            for m in messages:
                if m.key is None or m.key.decode() not in self.keys:
                    continue
                try:
                    record = records_codec.decode(m.value)
                except DecodeError as exc:
                    pytest.fail(f"undecodable record for {m.key!r} on {m.topic}: {exc}")
                self.records[record["kind"]][record["key"]] = record

    def close(self) -> None:
        self.consumer.close()


@pytest.mark.parametrize("split", [False, True], ids=["one-process", "process-per-join"])
def test_worker_joins_as_its_principal_and_the_desk_reads_the_records(
    secure_kafka: Any, tmp_path: Path, split: bool
) -> None:
    """Also split by join (``exchange worker --join KIND``, a consumer group per process,
    ``<app id>-<kind>``): the ACLs granted by the app id's prefix cover those groups."""
    registry = default_registry()
    # Each variant its own events, so the records it must produce are not there already.
    events = [e for e in simulate(40, 25, seed=2719 if split else 2718, shuffle=True)
              if e.invalid_reason is None]
    by_department: dict[str, list[Any]] = defaultdict(list)
    for e in events:
        by_department[registry.event(e.event_type).department].append(e)
    assert len(by_department) >= 6, sorted(by_department)
    for department, batch in by_department.items():
        with DepartmentPublisher(secure_kafka.client_settings(department), department,
                                 ensure_topics=False) as publisher:
            for e in batch:
                publisher.publish(e.event_type, e.record)
            assert publisher.flush().confirmed == len(batch)

    ref = reference_of(wire_messages(events, registry), registry)
    expected = {"enterprise": ref.enterprises, "property": ref.properties}
    worker_settings = secure_kafka.client_settings(WORKER)
    app_id = worker_settings.worker_app_id  # the id the ACLs were derived from
    workers = [WorkerProcess(secure_kafka.bootstrap, app_id, tmp_path, worker_env(worker_settings),
                             joins) for joins in ([("enterprise",), ("property",)] if split
                                                  else [()])]
    reader = DeskReader(secure_kafka.client_settings(DESK),
                        {*ref.enterprises, *ref.properties})

    def differing() -> dict[str, list[str]]:
        return {kind: sorted(k for k, v in want.items() if reader.records[kind].get(k) != v)
                for kind, want in expected.items()}

    def step() -> None:
        for worker in workers:
            assert worker.alive(), f"the worker died:\n{worker.log_tail()}"
        reader.poll()

    for worker in workers:
        worker.start()
    try:
        wait_until(lambda: not any(differing().values()), 240, step,
                   lambda: f"records equal the reference ({differing()} differ)\n"
                   + "\n".join(worker.log_tail() for worker in workers))
    finally:
        for worker in workers:
            worker.stop()
        reader.close()
    assert len(ref.enterprises) >= 40 and len(ref.properties) >= 25
    for worker in workers:
        log = worker.log_path.read_text(errors="replace")
        assert "AuthorizationFailed" not in log, worker.log_tail(80)
    # The broker's provisioning creates only the bus's topics: the changelogs are there
    # because the worker, as its principal, created them at start-up.
    admin = KafkaAdminClient(**worker_settings.kafka_client_options())
    try:
        topics = set(admin.list_topics())
    finally:
        admin.close()
    for kind in RECORD_KINDS:
        assert changelog_topic(app_id, kind) in topics


def _create_topic(settings: Settings, name: str) -> None:
    admin = KafkaAdminClient(**settings.kafka_client_options())
    try:
        admin.create_topics({name: {"num_partitions": 1, "replication_factor": 1}})
    finally:
        admin.close()


@pytest.mark.parametrize("name", ["dept.market.enterprise-copy", "exchange.shadow.v1",
                                  "another-app-enterprise-records-changelog"])
def test_worker_creates_topics_only_under_its_app_id(secure_kafka: Any, name: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        _create_topic(secure_kafka.client_settings(WORKER), name)


def test_no_one_else_creates_topics_under_the_workers_app_id(secure_kafka: Any) -> None:
    settings = secure_kafka.client_settings(DESK)
    with pytest.raises(TopicAuthorizationFailedError):
        _create_topic(settings, f"{settings.worker_app_id}-{uuid.uuid4().hex[:8]}-changelog")
