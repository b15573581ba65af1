"""The department systems answering the desks' applications (``exchange departments``).

One process reads ``dept.desk.application`` (consumer group ``exchange-departments``) and
answers every application like the departments would (:mod:`producers.responders`), each
department through its own :class:`~producers.publisher.DepartmentPublisher`, bound to that
department, so that it can write only its own topics. An application's offset is committed
once all its answers are published (or never coming): after a crash the unsettled ones are
read again and answered with the same event ids (seeded), which the merge core ignores.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata

from exchange import codec
from exchange.errors import ExchangeError
from exchange.schemas import SchemaRegistry, default_registry
from exchange.settings import Settings
from producers.publisher import DepartmentPublisher, make_producer
from producers.responders.application import APPLICATION_EVENT, from_avro
from producers.responders.config import ResponderConfig
from producers.responders.plan import plan
from producers.responders.schedule import AnswerSchedule, CaseRun, OffsetTracker

log = logging.getLogger(__name__)
DEFAULT_GROUP = "exchange-departments"
_SEEN_LIMIT = 100_000


def _now_utc() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)  # timestamp-millis


class _Revoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, systems: DepartmentSystems) -> None:
        self.systems = systems

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.systems.revoke([(tp.topic, tp.partition) for tp in revoked])

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        """Positions come from the group's committed offsets (the beginning when none)."""


class DepartmentSystems:
    """Consumes applications, keeps the pending answers, publishes them when due."""

    def __init__(
        self,
        settings: Settings,
        config: ResponderConfig,
        *,
        group: str = DEFAULT_GROUP,
        registry: SchemaRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _now_utc,
    ) -> None:
        self.settings = settings
        self.config = config
        self.registry = registry or default_registry(settings)
        self.topic = self.registry.topic(APPLICATION_EVENT)
        self.clock, self.wall_clock = clock, wall_clock
        self.schedule = AnswerSchedule(config)
        self.offsets = OffsetTracker()
        self._committed: dict[tuple[str, int], int] = {}
        self._answered: dict[str, None] = {}  # settled case ids, oldest first (bounded)
        self.published_total = 0
        self._producer = make_producer(settings)
        departments = sorted({d for d in self.registry.departments() if d != "desk"})
        self.publishers: Mapping[str, DepartmentPublisher] = {
            d: DepartmentPublisher(settings, d, registry=self.registry, producer=self._producer,
                                   ensure_topics=i == 0)
            for i, d in enumerate(departments)
        }
        self.consumer = KafkaConsumer(
            **settings.kafka_client_options(), group_id=group, enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=200,
        )
        self.consumer.subscribe([self.topic], listener=_Revoke(self))

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Read applications (waiting at most ``timeout_ms`` or until an answer is due),
        publish the due answers, commit what is settled. Returns applications read."""
        wait = self.schedule.next_due_in(self.clock())
        if wait is not None:
            timeout_ms = min(timeout_ms, int(wait * 1000))
        batches = self.consumer.poll(timeout_ms=max(timeout_ms, 0))
        read = 0
        for tp, messages in batches.items():
            for message in messages:
                self.handle((tp.topic, tp.partition), message.offset, message.value)
                read += 1
        self.fire_due()
        self.commit()
        return read

    def handle(self, partition: tuple[str, int], offset: int, value: bytes | None) -> None:
        """Start answering one application (a duplicate or a foreign message is skipped)."""
        try:
            event_type, record = codec.decode(value or b"", registry=self.registry,
                                              settings=self.settings)
        except ExchangeError as exc:
            log.error("departments: skipping %s[%d]@%d: %s", *partition, offset, exc)
            self.offsets.skipped(partition, offset)
            return
        if event_type != APPLICATION_EVENT:
            self.offsets.skipped(partition, offset)
            return
        app = from_avro(record)
        if app.case_id in self.schedule.runs or app.case_id in self._answered:
            log.info("departments: case %s already answered, redelivery ignored", app.case_id)
            self.offsets.skipped(partition, offset)
            return
        self.offsets.seen(partition, offset)
        run = self.schedule.add(app, plan(app, self.config.seed), partition, offset,
                                self.clock())
        log.info("departments: case %s (%s): %d answers planned", app.case_id, app.case_type,
                 len(run.reactions))
        self._settle_if_done(run)

    def fire_due(self) -> int:
        """Publish every answer due now; returns events published (delivery confirmed)."""
        due = self.schedule.due(self.clock())
        if not due:
            return 0
        sent: list[tuple[CaseRun, str]] = []
        count = 0
        for run, reaction in due:
            fate = run.fates[reaction.name]
            events = reaction.events(self.config.seed, run.app.case_id, self.wall_clock(),
                                     fate.conflict)
            for event_type, record in events:
                self.publishers[reaction.department].publish(event_type, record)
                count += 1
            sent.append((run, reaction.name))
            log.info("departments: case %s: %s answered%s%s (%s)", run.app.case_id,
                     reaction.name, " late" if fate.late else "",
                     " with a conflicting value" if fate.conflict else "",
                     ", ".join(t for t, _ in events))
        for publisher in self.publishers.values():
            publisher.flush()
        now = self.clock()
        for run, name in sent:
            self.schedule.published(run, name, now)
            self._settle_if_done(run)
        self.published_total += count
        return count

    def _settle_if_done(self, run: CaseRun) -> None:
        if not run.settled:
            return
        if run.lost:
            log.info("departments: case %s: never answered: %s", run.app.case_id,
                     ", ".join(sorted(run.lost)))
        self.offsets.settled(run.partition, run.offset)
        self.schedule.forget(run.app.case_id)
        self._answered[run.app.case_id] = None
        if len(self._answered) > _SEEN_LIMIT:
            self._answered.pop(next(iter(self._answered)))

    def commit(self) -> None:
        """Commit the offsets below every unsettled application (when they moved)."""
        ready = {tp: off for tp, off in self.offsets.committable().items()
                 if self._committed.get(tp) != off}
        if not ready:
            return
        self.consumer.commit({TopicPartition(*tp): OffsetAndMetadata(off, "", -1)
                              for tp, off in ready.items()})
        self._committed.update(ready)

    def revoke(self, partitions: Sequence[tuple[str, int]]) -> None:
        """Drop the pending answers of partitions another process now owns."""
        for tp in partitions:
            for case_id in [c for c, r in self.schedule.runs.items() if r.partition == tp]:
                self.schedule.forget(case_id)
            self.offsets.revoke(tp)
            self._committed.pop(tp, None)

    def answered(self, case_id: str) -> bool:
        """Whether every answer to case ``case_id`` is out (or never coming)."""
        return case_id in self._answered

    def pending(self) -> int:
        """Applications still being answered."""
        return len(self.schedule.runs)

    def run(self, stop: threading.Event) -> None:
        """Answer until ``stop`` is set."""
        while not stop.is_set():
            self.poll_once()

    def close(self) -> None:
        """Flush the answers sent, leave the group, close the producer."""
        try:
            for publisher in self.publishers.values():
                publisher.flush()
        finally:
            self.consumer.close(autocommit=False)
            self._producer.close()
