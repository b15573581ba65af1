"""One poll of the bus: committed and end offsets of every group -> lag, time lag, status.

The collector owns the per-partition offset/time tables and the per-group status windows and
writes the metrics. Bad input never stops it: an unreachable broker, an unknown group, a
partition deleted under it, or a failing fetch is counted in ``exchange_lag_poll_errors_total``,
logged once when it starts (and once when it clears), and the next poll tries again with a
fresh client.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kafka import TopicPartition
from kafka.errors import KafkaError, UnknownTopicOrPartitionError

from consumers.ops import metrics as m
from consumers.ops.lag import OffsetTimeTable, offset_lag
from consumers.ops.metrics import LagMetrics
from consumers.ops.source import OffsetSource
from consumers.ops.status import PartitionWindow, Sample, Status, group_status

log = logging.getLogger(__name__)

SourceFactory = Callable[[], OffsetSource]
Key = tuple[str, TopicPartition]  # (group, partition)
BROKER_CONDITION = "broker unreachable"


@dataclass(frozen=True)
class CollectorConfig:
    """Tuning of the collector (from the ``lag_*`` settings)."""

    window_seconds: float = 300.0
    table_capacity: int = 60
    groups: frozenset[str] = frozenset()  # empty: every group on the bus


@dataclass
class PollReport:
    """What one poll found (for logs, tests and the benchmark)."""

    statuses: dict[str, Status] = field(default_factory=dict)
    lags: dict[Key, int] = field(default_factory=dict)
    lag_seconds: dict[Key, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    broker_up: bool = True


class LagCollector:
    """Polls an :class:`OffsetSource` and keeps the lag metrics current."""

    def __init__(self, connect: SourceFactory, metrics: LagMetrics,
                 config: CollectorConfig = CollectorConfig(),
                 clock: Callable[[], float] = time.time) -> None:
        self._connect = connect
        self._metrics = metrics
        self._config = config
        self._clock = clock
        self._source: OffsetSource | None = None
        self._tables: dict[TopicPartition, OffsetTimeTable] = {}
        self._windows: dict[Key, PartitionWindow] = {}
        self._exported: set[Key] = set()
        self._groups: set[str] = set()
        self._active: set[str] = set()  # conditions logged and not yet cleared

    def poll(self) -> PollReport:
        """Read the broker once and update every metric; never raises a Kafka error."""
        started = time.perf_counter()
        report = PollReport()
        seen: set[str] = set()
        try:
            self._poll(report, seen)
        except (KafkaError, OSError) as exc:
            self._broker_down(exc, report)
            seen = self._active | {BROKER_CONDITION}
        self._settle_conditions(seen)
        self._metrics.broker_up.set(1 if report.broker_up else 0)
        self._metrics.poll_seconds.observe(time.perf_counter() - started)
        return report

    def close(self) -> None:
        """Close the Kafka client."""
        self._drop_source()

    # -- one poll
    def _poll(self, report: PollReport, seen: set[str]) -> None:
        if self._source is None:
            self._source = self._connect()
        source = self._source
        listed = source.groups()
        wanted = set(self._config.groups) or set(listed)
        for group in sorted(wanted - set(listed)):
            self._error(report, seen, m.UNKNOWN_GROUP, f"unknown group {group!r}")
            report.statuses[group] = Status.ERR
        committed = self._committed(source, sorted(wanted & set(listed)), report, seen)
        ends = self._end_offsets(source, {tp for o in committed.values() for tp in o},
                                 report, seen)
        now = self._clock()
        for tp, end in ends.items():
            self._tables.setdefault(tp, OffsetTimeTable(self._config.table_capacity)).add(end, now)
        for group, offsets in committed.items():
            statuses = [self._partition(report, group, tp, c, ends[tp], listed[group], now)
                        for tp, c in offsets.items() if tp in ends]
            report.statuses[group] = group_status(statuses)
        self._publish_statuses(report)
        self._forget_missing(report, ends)
        self._metrics.groups.set(len(listed))

    def _committed(self, source: OffsetSource, groups: list[str], report: PollReport,
                   seen: set[str]) -> dict[str, dict[TopicPartition, int]]:
        try:
            return source.committed(groups)
        except KafkaError:
            pass  # one bad group fails the batch: fetch them one by one to find it
        out: dict[str, dict[TopicPartition, int]] = {}
        for group in groups:
            try:
                out.update(source.committed([group]))
            except KafkaError as exc:
                self._error(report, seen, m.GROUP_FETCH_FAILED,
                            f"offsets of group {group!r} unreadable: {exc}")
                report.statuses[group] = Status.ERR
        return out

    def _end_offsets(self, source: OffsetSource, partitions: set[TopicPartition],
                     report: PollReport, seen: set[str]) -> dict[TopicPartition, int]:
        try:
            return source.end_offsets(partitions)
        except UnknownTopicOrPartitionError:
            existing = source.existing(partitions)
        for tp in sorted(partitions - existing):
            self._error(report, seen, m.UNKNOWN_PARTITION,
                        f"partition {tp.topic}[{tp.partition}] has committed offsets but no"
                        " longer exists")
        return source.end_offsets(existing)

    def _partition(self, report: PollReport, group: str, tp: TopicPartition, committed: int,
                   end: int, has_members: bool, now: float) -> Status:
        key = (group, tp)
        lag = offset_lag(end, committed)
        seconds = self._tables[tp].lag_seconds(committed, now)
        labels = (group, tp.topic, str(tp.partition))
        self._metrics.lag.labels(*labels).set(lag)
        report.lags[key] = lag
        if seconds is not None:
            self._metrics.lag_seconds.labels(*labels).set(seconds)
            report.lag_seconds[key] = seconds
        self._exported.add(key)
        window = self._windows.setdefault(key, PartitionWindow(self._config.window_seconds))
        window.add(Sample(now, committed, lag))
        return window.status(has_members)

    def _publish_statuses(self, report: PollReport) -> None:
        for group, status in report.statuses.items():
            self._metrics.set_status(group, status)
        for group in self._groups - set(report.statuses):
            self._metrics.forget_group(group)
        self._groups = set(report.statuses)

    def _forget_missing(self, report: PollReport, ends: dict[TopicPartition, int]) -> None:
        gone = self._exported - set(report.lags)
        for group, tp in gone:
            self._metrics.forget_partition(group, tp.topic, tp.partition)
            self._windows.pop((group, tp), None)
        self._exported -= gone
        for tp in set(self._tables) - set(ends):
            del self._tables[tp]

    # -- failures
    def _broker_down(self, exc: Exception, report: PollReport) -> None:
        self._drop_source()
        report.broker_up = False
        self._metrics.poll_errors.labels(m.BROKER_UNREACHABLE).inc()
        report.errors.append(m.BROKER_UNREACHABLE)
        if BROKER_CONDITION not in self._active:
            log.warning("lag exporter: broker unreachable (%s: %s); retrying every poll",
                        type(exc).__name__, exc)
        # Stale lag numbers would keep alerts firing on old data: drop them, flag every group.
        for group, tp in self._exported:
            self._metrics.forget_partition(group, tp.topic, tp.partition)
        self._exported.clear()
        for group in self._groups:
            self._metrics.set_status(group, Status.ERR)
            report.statuses[group] = Status.ERR

    def _error(self, report: PollReport, seen: set[str], reason: str, message: str) -> None:
        self._metrics.poll_errors.labels(reason).inc()
        report.errors.append(reason)
        seen.add(message)
        if message not in self._active:
            log.warning("lag exporter: %s", message)

    def _settle_conditions(self, seen: set[str]) -> None:
        for cleared in sorted(self._active - seen):
            log.info("lag exporter: recovered from: %s", cleared)
        self._active = seen

    def _drop_source(self) -> None:
        if self._source is not None:
            # Closing a client to a dead broker may fail; it is gone either way.
            with contextlib.suppress(KafkaError, OSError):
                self._source.close()
            self._source = None


def parse_groups(text: str) -> frozenset[str]:
    """Parse the comma-separated ``lag_groups`` setting."""
    return frozenset(g.strip() for g in text.split(",") if g.strip())


def describe(report: PollReport) -> Iterable[str]:
    """One line per group for the console: name, status and total lag."""
    for group, status in sorted(report.statuses.items()):
        total = sum(v for (g, _), v in report.lags.items() if g == group)
        yield f"{group}: {status.name} lag={total}"
