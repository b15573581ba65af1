"""The secured broker (``deploy/kafka/secure.py``): every forbidden act is refused by the
broker itself, every allowed one still works.

Refusals are the broker's: an authorization error code in its answer (29 topic, 30 group,
31 cluster) or, for authentication, the connection it closes and the line it logs. The
client-side department check of ``DepartmentPublisher`` is bypassed (``department=None``)
wherever the point is what the broker does.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import struct
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourceType,
)
from kafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
    for_code,
)

from consumers.ops.source import AdminOffsetSource
from exchange.errors import PublishError
from exchange.principals import DESK, EXPORTER, WORKER
from exchange.settings import Settings
from exchange.topics import ENTERPRISE_OUT, PROPERTY_OUT
from producers.publisher import DepartmentPublisher
from producers.simulator import simulate

pytestmark = pytest.mark.integration

DEPARTMENTS = ("market", "tax", "realestate", "social", "seal", "bank")


def _as(kafka: Any, user: str) -> Settings:
    settings: Settings = kafka.client_settings(user)
    return settings


def _raised(action: Callable[[], Any]) -> BaseException:
    """The exception ``action`` raises; the test fails if it raises none."""
    try:
        action()
    except Exception as exc:
        return exc
    pytest.fail("the broker allowed it")


def _topic_error(settings: Settings, topic: str) -> type[Exception]:
    """The error class the broker answers to this principal's metadata request for ``topic``."""
    admin = KafkaAdminClient(**settings.kafka_client_options())
    try:
        (described,) = admin.describe_topics([topic])
        error: type[Exception] = for_code(described["error_code"])
        return error
    finally:
        admin.close()


def _send(settings: Settings, topic: str) -> None:
    producer = KafkaProducer(**settings.kafka_client_options(), acks="all", max_block_ms=10_000)
    try:
        producer.send(topic, key=b"k", value=b"intruder").get(timeout=15)
    finally:
        producer.close()


def _consume(settings: Settings, topic: str, group: str | None, expected: int,
             timeout: float = 30.0, want: bytes | None = None) -> list[bytes]:
    """Read ``topic`` from the start until ``expected`` values (and ``want``, if given)
    arrived or ``timeout`` passed; with a group, commit what was read."""
    consumer = KafkaConsumer(**settings.kafka_client_options(), group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False)
    values: list[bytes] = []
    try:
        if group is None:
            consumer.assign([TopicPartition(topic, p)
                             for p in range(settings.topic_partitions)])
        else:
            consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while ((len(values) < expected or (want is not None and want not in values))
               and time.monotonic() < deadline):
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in records)
        if group is not None and values:
            consumer.commit()
    finally:
        consumer.close()
    return values


def _new_log_lines(log: Path, start: int) -> str:
    with log.open("rb") as f:
        f.seek(start)
        return f.read().decode(errors="replace")


def _events_by_department() -> dict[str, list[tuple[str, Any]]]:
    by_department: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for event in simulate(10, 5, seed=11):
        if event.invalid_reason is None:
            by_department[event.event_type.split(".")[0]].append(
                (event.event_type, event.record))
    return by_department


# --------------------------------------------------------------------- refused


def test_tax_cannot_publish_to_market_topic(secure_kafka: Any) -> None:
    settings = _as(secure_kafka, "tax")
    market_event = _events_by_department()["market"][0]
    # Unbound publisher: the client-side department check must not be what stops it.
    publisher = DepartmentPublisher(settings, None, ensure_topics=False)

    def publish() -> None:
        publisher.publish(*market_event)
        publisher.flush(30)

    try:
        error = _raised(publish)
    finally:
        with contextlib.suppress(PublishError):
            publisher.close()
    if isinstance(error, PublishError):
        assert "TopicAuthorizationFailedError" in str(error), error
    else:
        assert isinstance(error, TopicAuthorizationFailedError), error
    assert "dept.market.enterprise" in str(error)


@pytest.mark.parametrize(("user", "refusal"), [
    (DESK, TopicAuthorizationFailedError),
    (WORKER, TopicAuthorizationFailedError),
    # No WRITE anywhere: refused already the idempotent producer id (cluster, error 31).
    (EXPORTER, ClusterAuthorizationFailedError),
])
def test_no_one_but_the_department_writes_its_topic(
    secure_kafka: Any, user: str, refusal: type[Exception]
) -> None:
    error = _raised(lambda: _send(_as(secure_kafka, user), "dept.market.enterprise"))
    # kafka-python wraps the InitProducerId refusal in a plain KafkaError naming the class.
    assert isinstance(error, refusal) or refusal.__name__ in str(error), error


@pytest.mark.parametrize(("user", "topic"), [
    (DESK, "dept.market.enterprise"),
    (DESK, "dept.tax.property"),
    ("market", ENTERPRISE_OUT),
    ("realestate", PROPERTY_OUT),
])
def test_reads_outside_ones_rights_are_refused(secure_kafka: Any, user: str, topic: str) -> None:
    _send(_as(secure_kafka, "admin"), topic)  # something to steal
    settings = _as(secure_kafka, user)
    # Not even described: the broker's metadata answer for the topic is error 29 ...
    assert _topic_error(settings, topic) is TopicAuthorizationFailedError
    # ... so a consumer assigned to its partitions gets nothing.
    assert _consume(settings, topic, None, expected=1, timeout=5) == []


def test_a_department_does_not_read_back_its_own_topic(secure_kafka: Any) -> None:
    # Described (it writes there), but the fetch itself is refused.
    _send(_as(secure_kafka, "tax"), "dept.tax.enterprise")
    error = _raised(lambda: _consume(_as(secure_kafka, "tax"), "dept.tax.enterprise", None, 1, 15))
    assert isinstance(error, TopicAuthorizationFailedError), error


def test_exporter_sees_offsets_but_cannot_fetch_payloads(secure_kafka: Any) -> None:
    _send(_as(secure_kafka, WORKER), ENTERPRISE_OUT)
    error = _raised(lambda: _consume(_as(secure_kafka, EXPORTER), ENTERPRISE_OUT, None, 1, 15))
    assert isinstance(error, TopicAuthorizationFailedError), error


def test_desk_cannot_join_the_workers_group(secure_kafka: Any) -> None:
    settings = _as(secure_kafka, DESK)
    error = _raised(lambda: _consume(settings, ENTERPRISE_OUT, settings.worker_app_id, 1, 10))
    assert isinstance(error, GroupAuthorizationFailedError), error


def test_a_department_cannot_grant_itself_rights(secure_kafka: Any) -> None:
    admin = KafkaAdminClient(**_as(secure_kafka, "market").kafka_client_options())
    try:
        unified = ResourcePattern(ResourceType.TOPIC, "exchange.", ACLResourcePatternType.PREFIXED)
        grab = ACL("User:market", "*", ACLOperation.READ, ACLPermissionType.ALLOW, unified)
        result = admin.create_acls([grab])
    finally:
        admin.close()
    assert result["succeeded"] == []
    assert result["failed"] == [ClusterAuthorizationFailedError]


def _raw_metadata_request(port: int) -> bytes:
    """Send a MetadataRequest v4 without authenticating; return whatever comes back."""
    client_id = b"intruder"
    header = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id
    body = struct.pack(">ib", -1, 0)  # all topics, no auto-creation
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
        try:
            return sock.recv(4096)
        except ConnectionResetError:
            return b""


def test_anonymous_clients_are_turned_away(secure_kafka: Any) -> None:
    node = secure_kafka.nodes[0]
    start = node.log.stat().st_size
    error = _raised(lambda: KafkaAdminClient(
        bootstrap_servers=secure_kafka.bootstrap, request_timeout_ms=3000,
        bootstrap_timeout_ms=4000).list_topics())
    assert isinstance(error, KafkaTimeoutError), error  # never got past the handshake
    for port in (node.port, node.controller_port):  # the controller listener too
        assert _raw_metadata_request(port) == b"", f"port {port} answered an anonymous client"
    for listener in ("BROKER", "CONTROLLER"):
        refused = (rf"listenerType={listener},[^\n]*Unexpected error from /127\.0\.0\.1[^\n]*"
                   r"\n(?:[^\n]*\n)?[^\n]*"  # the broker may wrap the cause in one more line
                   r"Unexpected Kafka request of type METADATA during SASL handshake")
        log = _until_logged(node.log, start, refused)
        assert re.search(refused, log), f"no refusal logged by the {listener} listener"


def test_a_wrong_password_is_refused(secure_kafka: Any, caplog: pytest.LogCaptureFixture) -> None:
    node = secure_kafka.nodes[0]
    start = node.log.stat().st_size
    settings = _as(secure_kafka, "market")
    options = {**settings.kafka_client_options(), "sasl_plain_password": "not-the-password"}
    with caplog.at_level(logging.ERROR, logger="kafka"):
        error = _raised(lambda: KafkaAdminClient(**options, bootstrap_timeout_ms=4000)
                        .list_topics())
    assert isinstance(error, KafkaTimeoutError), error
    # The client may see the refusal as SaslAuthenticationFailedError or, when the broker
    # closes first, as a dropped socket (seen when the whole module runs): the broker's own
    # log below is the proof that it refused the credentials.
    assert ("SaslAuthenticationFailedError" in caplog.text
            or "disconnected" in caplog.text.lower()), caplog.text
    assert "not-the-password" not in caplog.text
    assert "invalid credentials" in _until_logged(node.log, start, "invalid credentials")


def _until_logged(log: Path, start: int, pattern: str, timeout: float = 10.0) -> str:
    """The broker's log written since ``start``, once ``pattern`` matches it (or at timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        text = _new_log_lines(log, start)
        if re.search(pattern, text) or time.monotonic() > deadline:
            return text
        time.sleep(0.2)


# --------------------------------------------------------------------- allowed


def test_each_department_publishes_its_own_events(secure_kafka: Any) -> None:
    events = _events_by_department()
    expected: dict[str, int] = defaultdict(int)
    for department in DEPARTMENTS:
        settings = _as(secure_kafka, department)
        with DepartmentPublisher(settings, department, ensure_topics=False) as publisher:
            for event_type, record in events[department]:
                publisher.publish(event_type, record)
                expected[publisher.registry.topic(event_type)] += 1
            report = publisher.flush()
        assert report.confirmed == len(events[department]) > 0
    # The worker's principal reads every department topic: all of it arrived.
    worker = _as(secure_kafka, WORKER)
    for topic, count in expected.items():
        assert len(_consume(worker, topic, None, count)) >= count, topic


def test_desk_reads_the_unified_topic_and_the_exporter_its_offsets(secure_kafka: Any) -> None:
    marker = uuid.uuid4().hex.encode()
    worker = _as(secure_kafka, WORKER)
    producer = KafkaProducer(**worker.kafka_client_options(), acks="all")
    try:
        producer.send(PROPERTY_OUT, key=b"unit", value=marker).get(timeout=30)
    finally:
        producer.close()
    desk = _as(secure_kafka, DESK)
    group = f"{desk.desk_group}-{uuid.uuid4().hex[:6]}"
    values = _consume(desk, PROPERTY_OUT, group, expected=1, want=marker)
    assert marker in values
    source = AdminOffsetSource(_as(secure_kafka, EXPORTER).kafka_client_options(), 5000)
    try:
        assert group in source.groups()
        committed = source.committed([group])[group]
        assert sum(committed.values()) >= 1
        ends = source.end_offsets(committed)
        assert all(ends[tp] >= offset for tp, offset in committed.items())
    finally:
        source.close()
