"""Department publishers on kafka-python: validated, self-describing, acknowledged by all replicas.

A publisher validates and encodes an event *before* anything is sent (an invalid event raises
:class:`~exchange.errors.ValidationError` and nothing leaves the process), keys it by the
credit code or unit number the event is about, and tracks every send until the broker confirms
it: :meth:`DepartmentPublisher.flush` raises :class:`~exchange.errors.PublishError` if any
delivery failed, so nothing is dropped silently. :meth:`DepartmentPublisher.publish_many` does
the same for a batch of events and sends them in bursts, which keeps kafka-python's batches full.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from exchange import codec
from exchange.errors import ExchangeError, PublishError, ValidationError
from exchange.schemas import EventSchema, SchemaRegistry, default_registry
from exchange.settings import Settings
from exchange.topics import ensure_bus_topics
from producers.metrics import PublisherMetrics, default_metrics

#: Producer settings shared with the raw baseline of the benchmark, so the comparison is fair.
PRODUCER_OPTIONS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "batch_size": 256 * 1024,
    "max_in_flight_requests_per_connection": 5,
    "retries": 2**31 - 1,
    "delivery_timeout_ms": 120_000,
}


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """A kafka-python producer with the bus's delivery guarantees (acks=all, idempotent)."""
    options = {**settings.kafka_client_options(), **PRODUCER_OPTIONS, **overrides}
    options.setdefault("max_request_size", max(settings.max_event_bytes * 2, 1_048_576))
    return KafkaProducer(**options)


@dataclass
class DeliveryReport:
    """What the broker confirmed, and what it refused, since the last flush."""

    sent: int = 0
    confirmed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (event_id, error)


def headers_for(event: EventSchema, envelope: Mapping[str, Any],
                fixed: tuple[tuple[str, bytes], ...] | None = None) -> list[tuple[str, bytes]]:
    """The headers of a department message: event id, department, event type, schema
    fingerprint and trace id (a new one when the envelope's is empty or missing).

    ``envelope`` is the event's envelope; it is read as given, not validated. ``fixed`` is
    :func:`fixed_headers` of ``event`` when the caller keeps it (the publisher does, per event
    type), so that only the two headers of the event itself are built per message.
    """
    department, event_type, fingerprint = fixed if fixed is not None else fixed_headers(event)
    return [
        ("event_id", str(envelope.get("event_id", "")).encode()),
        department, event_type, fingerprint,
        ("trace_id", (envelope.get("trace_id") or uuid.uuid4().hex).encode()),
    ]


def fixed_headers(event: EventSchema) -> tuple[tuple[str, bytes], ...]:
    """The headers every message of ``event``'s type carries alike: department, event type
    and schema fingerprint, in the order :func:`headers_for` puts them."""
    return (
        ("department", event.department.encode()),
        ("event_type", event.event_type.encode()),
        ("schema_fingerprint", event.fingerprint_hex.encode()),
    )


#: publish_many encodes this many events, then hands them to the producer in one tight loop.
#: kafka-python fills its batches only when sends come in bursts: one send after each encoding
#: made them ~2.5x smaller, and chunks of 100 cost more CPU per event than chunks of 500, 5000
#: or 20000 (these three within noise; make bench-publish's events, issue #2). 5000 events of
#: ~220 bytes hold ~1 MB.
SEND_CHUNK = 5000

#: One send in this many (the first after each flush among them) is timed to its
#: acknowledgement for the ``exchange_publisher_ack_seconds`` histogram. Timing every send
#: cost ~4 us of CPU per event (a callback per future, run by the sender thread, and a
#: histogram observation): about a tenth of raw kafka-python's own cost per send (issue #2).
#: The quantiles of a 1-in-16 sample are as good; the exact count of sends is
#: ``exchange_publisher_events_sent_total``.
ACK_SAMPLE = 16


@dataclass(slots=True)
class _Chunk:
    """Encoded events waiting to be sent, in three lists rather than one of tuples (one
    object less per event for the garbage collector, see ``_pending_ids``)."""

    routes: list[_Route] = field(default_factory=list)
    records: list[Mapping[str, Any]] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: one per event type
class _Route:
    """What publishing one event type needs, looked up once per publisher."""

    event: EventSchema
    headers: tuple[tuple[str, bytes], ...]  # fixed_headers(event)
    refusal: str | None  # why this publisher may not publish the type; None: it may
    sent: Any  # the metrics' children labelled with the event's department
    refused: Any
    ack_seconds: Any


class DepartmentPublisher:
    """Publishes one department's events (or any department's, when ``department`` is None).

    A department-bound publisher refuses events of another department before sending: the
    broker's ACLs enforce the same rule in secured mode, this check gives a clear message
    earlier.
    """

    def __init__(
        self,
        settings: Settings,
        department: str | None = None,
        *,
        registry: SchemaRegistry | None = None,
        producer: KafkaProducer | None = None,
        ensure_topics: bool = True,
        metrics: PublisherMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or default_metrics()
        self.department = department
        self.registry = registry or default_registry(settings)
        # Never leave topic creation to the broker's defaults. On a secured bus the operator
        # creates the topics (a department may not), so there is nothing to do here.
        if ensure_topics and not settings.kafka_security_protocol.startswith("SASL"):
            ensure_bus_topics(settings, self.registry)
        self._codec = codec.codec_for(self.registry, settings)  # plans compiled once
        self._producer = producer or make_producer(settings)
        self.report = DeliveryReport()
        # What flush checks, in three lists rather than one of tuples: a tuple per event
        # kept until the flush is one more object for the garbage collector to walk, and
        # its collections were a third of the publisher's own CPU time (issue #2).
        self._pending_ids: list[str] = []
        self._pending_departments: list[str] = []
        self._pending_futures: list[Any] = []
        self._routes: dict[str, _Route] = {}

    def publish(self, event_type: str, record: Mapping[str, Any]) -> str:
        """Validate, encode and send one event; return its event id.

        Raises ValidationError (nothing sent) for an invalid event. Delivery is confirmed
        asynchronously: call :meth:`flush` to wait for it.
        """
        route = self._routes.get(event_type) or self._route(event_type)
        event_id = self._send(route, record, self._encode(route, record))
        route.sent.inc()
        return event_id

    def publish_many(
        self,
        events: Iterable[tuple[str, Mapping[str, Any]]],
        refused: Callable[[int, ExchangeError], None] | None = None,
    ) -> list[str]:
        """Publish ``(event_type, record)`` pairs in order; return the ids of the events sent.

        The same as calling :meth:`publish` for each, but events are encoded a chunk at a
        time and then sent together, which keeps the producer's batches full. Like that loop,
        it stops at the first invalid event (ValidationError; UnknownSchema for an unknown
        type): the events before it are sent, it and the ones after it are not, and its error
        carries a note saying which one it was.

        With ``refused``, an invalid event does not stop the batch: ``refused(index, error)``
        is called with its position in ``events`` before the next event is taken, the event
        is not sent, and the rest are published, as a loop of :meth:`publish` that catches
        and reports each error would. If ``refused`` raises, the batch stops there as above.
        """
        ids: list[str] = []
        chunk = _Chunk()
        position = 0  # of the event at hand in ``events``
        try:
            for event_type, record in events:
                try:
                    route = self._routes.get(event_type) or self._route(event_type)
                    payload = self._encode(route, record)
                except ExchangeError as exc:  # ValidationError, UnknownSchema
                    if refused is None:
                        raise
                    refused(position, exc)
                else:
                    chunk.routes.append(route)
                    chunk.records.append(record)
                    chunk.payloads.append(payload)
                    if len(chunk.routes) >= SEND_CHUNK:
                        self._send_chunk(chunk, ids)
                position += 1
        except ExchangeError as exc:
            sent = len(ids) + len(chunk.routes)
            exc.add_note(f"the event at index {position} of the batch: {sent} events before it "
                         "were sent, it and those after it were not")
            raise
        finally:
            self._send_chunk(chunk, ids)  # what was valid up to here, as a publish loop would
        return ids

    def _send_chunk(self, chunk: _Chunk, ids: list[str]) -> None:
        items = zip(chunk.routes, chunk.records, chunk.payloads, strict=True)
        chunk.routes, chunk.records, chunk.payloads = [], [], []  # first: a send that fails
        sent: dict[_Route, int] = {}  # leaves nothing to send twice
        try:
            for route, record, payload in items:
                ids.append(self._send(route, record, payload))
                sent[route] = sent.get(route, 0) + 1
        finally:
            for route, count in sent.items():  # one increment per department and chunk
                route.sent.inc(count)

    def _route(self, event_type: str) -> _Route:
        event = self.registry.event(event_type)  # UnknownSchema for an unknown event type
        refusal = None
        if self.department is not None and event.department != self.department:
            refusal = (f"publisher of department '{self.department}' may not publish "
                       f"'{event.department}' events")
        label = event.department
        route = _Route(event, fixed_headers(event), refusal, self.metrics.sent.labels(label),
                       self.metrics.refused.labels(label), self.metrics.ack_seconds.labels(label))
        self._routes[event_type] = route
        return route

    def _encode(self, route: _Route, record: Mapping[str, Any]) -> bytes:
        """The validated single-object encoding of ``record``; ValidationError if invalid."""
        if route.refusal is not None:
            raise ValidationError(route.event.event_type, "envelope.department", route.refusal)
        try:
            return self._codec.encode(route.event.event_type, record)
        except ValidationError:
            route.refused.inc()
            raise

    def _send(self, route: _Route, record: Mapping[str, Any], payload: bytes) -> str:
        """Hand one encoded (hence valid) event to the producer and track its delivery (the
        caller counts it in the ``sent`` metric)."""
        envelope = record["envelope"]
        event_id: str = envelope["event_id"]  # a UUID string: the encoder checked it
        future = self._producer.send(route.event.topic, value=payload,
                                     key=envelope["key"].encode(),
                                     headers=headers_for(route.event, envelope, route.headers))
        self._pending_ids.append(event_id)
        self._pending_departments.append(route.event.department)
        self._pending_futures.append(future)
        if self.report.sent % ACK_SAMPLE == 0:
            future.add_callback(self._acked, route.ack_seconds, time.perf_counter())
        self.report.sent += 1
        return event_id

    @staticmethod
    def _acked(ack_seconds: Any, sent_at: float, _metadata: Any) -> None:
        ack_seconds.observe(time.perf_counter() - sent_at)

    def flush(self, timeout: float | None = 60.0) -> DeliveryReport:
        """Wait for every pending delivery; raise PublishError if any was refused or timed out."""
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as exc:
            raise PublishError(
                f"{len(self._pending_ids)} events not confirmed: {type(exc).__name__}: {exc}"
            ) from exc
        report = self.report
        pending = zip(self._pending_ids, self._pending_departments, self._pending_futures,
                      strict=True)
        self.report = DeliveryReport()
        self._pending_ids, self._pending_departments, self._pending_futures = [], [], []
        for event_id, department, future in pending:
            if future.succeeded():
                report.confirmed += 1
                continue
            self.metrics.failed.labels(department).inc()
            if not future.is_done:
                report.failures.append((event_id, "no acknowledgement from the broker"))
            else:
                error = future.exception
                report.failures.append((event_id, f"{type(error).__name__}: {error}"))
        if report.failures:
            first = "; ".join(f"{eid}: {err}" for eid, err in report.failures[:3])
            raise PublishError(
                f"{len(report.failures)} of {report.sent} events were not delivered "
                f"(first: {first})"
            )
        return report

    def close(self) -> None:
        """Flush pending deliveries and close the producer."""
        try:
            self.flush()
        finally:
            self._producer.close()

    def __enter__(self) -> DepartmentPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
