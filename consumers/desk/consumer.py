"""The desk consumer: unified records from the compacted output topics into the desk database,
and the desk's own applications (``dept.desk.application``) onto their cases' timelines.

kafka-python with ``enable_auto_commit=False``. The desk database is the truth about what
was consumed: on assignment each partition is sought to the next offset stored in
``desk_offsets`` (the beginning when none), and every record commits its effects and its
next offset in one transaction (:meth:`DeskService.apply_record`; for an application,
:meth:`DeskService.apply_application` and its ``application_published`` entry). Offsets are
also committed to Kafka after each batch, for the lag exporter only: after a crash the stored
offsets win, so a record is applied at most once whichever commit was lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener

from consumers.desk.applications import APPLICATION_TOPIC
from consumers.desk.metrics import DeskMetrics
from consumers.desk.service import APPLICATION_EVENT, DeskService
from exchange import codec
from exchange.errors import DecodeError, UnknownSchema
from exchange.schemas import SchemaRegistry
from exchange.topics import ENTERPRISE_OUT, PROPERTY_OUT
from exchange.worker.records_codec import decode

log = logging.getLogger(__name__)
TOPICS = (ENTERPRISE_OUT, PROPERTY_OUT, APPLICATION_TOPIC)
APPLICATION_TOPICS = (APPLICATION_TOPIC,)


class _SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]
    """Positions come from the desk database, not from Kafka's committed offsets."""

    def __init__(self, desk: DeskConsumer) -> None:
        self.desk = desk

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        """Nothing to flush: every record committed with its offset already."""

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        """Seek each new partition to its stored next offset."""
        self.desk.seek_to_stored(assigned)


class DeskConsumer:
    """Consumes unified records and advances the cases they are about; a message of one of
    ``application_topics`` is a desk application, noted on its case's timeline."""

    def __init__(
        self,
        service: DeskService,
        client_options: dict[str, Any],
        *,
        group: str,
        topics: Iterable[str] = TOPICS,
        metrics: DeskMetrics | None = None,
        max_records: int = 500,
        application_topics: Iterable[str] = APPLICATION_TOPICS,
        registry: SchemaRegistry | None = None,
    ) -> None:
        self.service = service
        self.group = group
        self.topics = tuple(topics)
        self.application_topics = frozenset(application_topics)
        self.registry = registry
        self.metrics = metrics
        self.max_records = max_records
        self.consumer = KafkaConsumer(
            **client_options,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_records,
        )
        self.consumer.subscribe(list(self.topics), listener=_SeekToStored(self))

    def seek_to_stored(self, partitions: Iterable[TopicPartition]) -> None:
        """Seek ``partitions`` to the offsets stored in the desk database."""
        with self.service.uow() as uow:
            stored = uow.offsets.all(self.group)
        for tp in partitions:
            position = stored.get((tp.topic, tp.partition))
            if position is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, position)
            log.info(
                "desk consumer: %s[%d] from %s",
                tp.topic,
                tp.partition,
                "the beginning" if position is None else position,
            )

    def poll_once(self, timeout_ms: int = 1000) -> int:
        """Apply the records of one poll; returns how many messages were handled."""
        batches = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.max_records)
        handled = 0
        for tp, messages in batches.items():
            for message in messages:
                self.handle(tp.topic, tp.partition, message.offset, message.value)
                handled += 1
        if handled:
            self.consumer.commit_async()  # for the lag exporter; the database is the truth
        return handled

    def handle(self, topic: str, partition: int, offset: int, value: bytes | None) -> None:
        """Apply one message (a tombstone or an undecodable one only advances the offset)."""
        if topic in self.application_topics:
            self.handle_application(topic, partition, offset, value)
            return
        record: dict[str, Any] | None = None
        if value is not None:
            try:
                record = decode(value)
            except DecodeError as exc:
                log.error("desk consumer: skipping %s[%d]@%d: %s", topic, partition, offset, exc)
        self.service.apply_record(
            record, topic=topic, partition=partition, offset=offset, group=self.group
        )
        if record is not None and self.metrics is not None:
            self.metrics.records_consumed.labels(str(record.get("kind"))).inc()

    def handle_application(
        self, topic: str, partition: int, offset: int, value: bytes | None
    ) -> None:
        """Note a desk application on its case's timeline (anything else there, or an
        undecodable message, only advances the offset)."""
        application: dict[str, Any] | None = None
        if value is not None:
            try:
                event_type, decoded = codec.decode(value, registry=self.registry)
            except (DecodeError, UnknownSchema) as exc:
                log.error("desk consumer: skipping %s[%d]@%d: %s", topic, partition, offset, exc)
            else:
                if event_type == APPLICATION_EVENT:
                    application = decoded
                else:
                    log.warning("desk consumer: %s[%d]@%d is a %s, not an application",
                                topic, partition, offset, event_type)
        self.service.apply_application(
            application, topic=topic, partition=partition, offset=offset, group=self.group
        )
        if application is not None and self.metrics is not None:
            self.metrics.records_consumed.labels("application").inc()

    def run(self, stop: threading.Event, on_batch: Callable[[int], None] | None = None) -> None:
        """Poll until ``stop`` is set."""
        while not stop.is_set():
            handled = self.poll_once()
            if on_batch is not None:
                on_batch(handled)

    def close(self) -> None:
        """Leave the group without committing anything more to Kafka."""
        self.consumer.close(autocommit=False)
