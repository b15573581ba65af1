"""The Faust application, built by a factory from settings (never at import time).

Two joins, one per record kind. Each consumes its department topics plus one repartition
topic of the foreign-key join, takes what arrived since its last batch from its intake (the
records come in bulk from the fetch, not through Faust's per-message stream: see
:mod:`exchange.worker.intake`), folds the batch into an open window through
:mod:`exchange.worker.processor`, and when it has caught up (or the window is full) commits
the window: the changed records to the compacted output topic, then to its table. The joins
only wire: every decision is in the processor and the merge core.

Processing guarantee: at-least-once with an idempotent merge. A batch is acknowledged (and
so committed) only after the outputs, join messages and table changelog of its window are
confirmed by the broker, outputs before the table is written (see ``commit``); a message
redelivered after a crash is folded again and changes nothing, because the record remembers
the event ids it has applied. A stop leaves the batches of the open window and of the window
being committed unacknowledged; a failure ends the process (see ``join`` in :func:`_wire`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import faust
import faust.streams as faust_streams
import rocksdict
from faust.stores.rocksdb import Store as RocksDBStore
from faust.types import TP

from exchange.schemas import SchemaRegistry, default_registry
from exchange.settings import Settings
from exchange.topics import (
    DEAD_LETTER,
    ENTERPRISE_OUT,
    OWNER_LINKS,
    OWNER_SNAPSHOTS,
    PROBE,
    PROBE_REPLIES,
    PROPERTY_OUT,
    changelog_topic,
    table_name,
)
from exchange.worker import positions, records_codec
from exchange.worker.intake import Intake, JoinConsumer
from exchange.worker.metrics import WorkerMetrics, scan
from exchange.worker.outbox import Outbox, Outgoing
from exchange.worker.processor import KINDS, BatchResult, Incoming, Window

log = logging.getLogger(__name__)


#: Per record kind: where its join sends its records.
JOINS: dict[str, str] = {"enterprise": ENTERPRISE_OUT, "property": PROPERTY_OUT}


def join_sources(registry: SchemaRegistry, kind: str) -> list[str]:
    """The topics the join of ``kind`` consumes: its departments' and the other side's
    join messages (and the end-to-end probe, answered by the enterprise side)."""
    if kind == "enterprise":
        return registry.topics("enterprise") + [OWNER_LINKS, PROBE]
    return registry.topics("property") + [OWNER_SNAPSHOTS]


def app_id_for(worker_app_id: str, joins: Sequence[str] = ()) -> str:
    """The Faust application id (and consumer group) of a worker running ``joins`` (none
    named: all).

    All joins: the worker's id. One join (a worker split by record kind, one process per
    join): the id with the kind appended, a consumer group of its own. Changelogs keep the
    worker's id either way (see ``_wire``), so the two deployments share their tables.
    """
    if not joins or set(joins) == set(JOINS):
        return worker_app_id
    return "-".join([worker_app_id, *sorted(set(joins))])


def create_app(
    settings: Settings,
    registry: SchemaRegistry | None = None,
    metrics: WorkerMetrics | None = None,
    joins: Sequence[str] = (),
) -> faust.App:
    """Build the worker application and wire the agents of ``joins`` (record kinds; none
    named: all)."""
    unknown = set(joins) - set(JOINS)
    if unknown:
        raise ValueError(f"unknown joins {sorted(unknown)}: choose from {sorted(JOINS)}")
    registry = registry or default_registry(settings)
    metrics = metrics or WorkerMetrics.create()
    if not records_codec.IN_C:
        log.warning("the record codec's C part (exchange/worker/_record_codec.c) was not built "
                    "where this package was installed (no C compiler?): records are written "
                    "and read in Python, the same bytes at several times the cost")
    (settings.data_dir / "worker").mkdir(parents=True, exist_ok=True)
    # "rocksdb://": one RocksDB per table and partition under the app's datadir.
    store = settings.worker_store or "rocksdb://"
    app = faust_app(
        settings,
        datadir=settings.data_dir / "worker",
        app_id=app_id_for(settings.worker_app_id, joins),
        store=store,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        processing_guarantee="at_least_once",
    )
    positions.install(app, JoinConsumer)  # before anything asks for the consumer
    for kind in JOINS:
        if not joins or kind in joins:
            _wire(app, kind, registry, settings, metrics)
    return app


def faust_app(settings: Settings, datadir: Path, app_id: str | None = None,
              **options: Any) -> faust.App:
    """A Faust app with the worker's client configuration (the join's and the benchmark's
    Faust baseline, which must not differ from it), plus ``options``."""
    app = faust.App(
        app_id or settings.worker_app_id,
        broker=[f"kafka://{b}" for b in settings.kafka_bootstrap.split(",")],
        datadir=str(datadir),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # aiokafka keeps one request in flight per broker, so throughput is batch size over
        # the round trip: records are kilobytes of JSON, and 16 KiB batches (the default)
        # held the worker to ~100 events/s. Large batches fix that. No linger: a batch's
        # sends are all queued before the agent waits for their confirmation (the sender
        # cannot run in between), so they travel together anyway, and a linger would only
        # add itself to each of the two waits of every batch.
        producer_max_batch_size=settings.worker_producer_batch_bytes,
        producer_linger=0.0,
        # Faust's default (1,200 s) is also how long a produce request to a broker that died
        # is waited for: the fault suite's worker stalled behind one. After 30 s the send
        # fails and the batch sends it again (see exchange.worker.outbox).
        producer_request_timeout=30.0,
        stream_buffer_maxsize=8192,
        # The heartbeat runs in Faust's consumer thread, so a long batch in the agent does
        # not starve it; the broker's floor is group.min.session.timeout.ms (6 s).
        broker_session_timeout=settings.worker_session_timeout_seconds,
        broker_heartbeat_interval=settings.worker_session_timeout_seconds / 5,
        broker_commit_every=5000,
        broker_commit_interval=1.0,
        **_broker_security(settings),
        **options,
    )
    positions.install(app)
    return app


#: CPython's collector runs a young-generation pass every 700 net allocations. The fold
#: allocates new containers for every record it changes and keeps thousands of them (the
#: record cache, the batch), so the older generations were rescanned over and over: a
#: third of the fold's CPU (``python -m exchange.worker.bench_fold --gc default`` against
#: ``--gc worker``). Almost all of the fold's garbage is freed by reference counting anyway.
GC_THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    """Collect less often, and never rescan what exists at start-up (modules, schemas)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run(app: faust.App, loglevel: str = "warning") -> None:
    """Run ``app`` in this process until SIGTERM/SIGINT."""
    from faust.worker import Worker

    tune_gc()

    worker = Worker(app, loglevel=loglevel, quiet=True)
    # Faust's terminal spinner sets the root logger to DEBUG so that it can spin on every
    # record: each debug call of aiokafka and Faust then built a LogRecord (7 % of the
    # worker's CPU in a profile). A worker logs to files and containers, not to a terminal.
    worker.spinner = None
    worker.execute_from_commandline()


def _broker_security(settings: Settings) -> dict[str, Any]:
    if not settings.kafka_security_protocol.startswith("SASL"):
        return {}
    password = settings.kafka_password.get_secret_value() if settings.kafka_password else ""
    credentials = faust.SASLCredentials(
        username=settings.kafka_username or "",
        password=password,
        mechanism=settings.kafka_sasl_mechanism,
    )
    return {"broker_credentials": credentials}


class _At:
    """What Faust's tables read of the current event: ``event.message.partition``."""

    __slots__ = ("partition", "__weakref__")

    def __init__(self, partition: int) -> None:
        self.partition = partition

    @property
    def message(self) -> _At:
        return self


@contextmanager
def _tables_at(partition: int) -> Iterator[None]:
    """Within this block, the tables of this task read and write ``partition``.

    Faust tables pick the changelog partition and the RocksDB partition store from the
    current event (a context variable, holding it by weak reference); a batch spans
    partitions, so each partition's group is read and written under its own.
    """
    at = _At(partition)
    token = faust_streams._current_event.set(weakref.ref(at))  # type: ignore[arg-type]
    try:
        yield
    finally:
        faust_streams._current_event.reset(token)


def _store_writer(store: Any) -> Callable[[int, list[tuple[bytes, bytes]]], None]:
    """A function writing (key, value) pairs to one partition of the table's local store.

    RocksDB gets them as one write batch: Faust's ``Store._set`` per key (a context lookup,
    its lock-guarded key index, a put) was 7 % of the worker in a py-spy profile. Faust's
    changelog restore writes the same way (``Store.apply_changelog_batch``). The key index
    is left alone: reads go to the current partition's database (see ``_tables_at``).
    """
    if isinstance(store, RocksDBStore) and store.use_rocksdict:
        def write_batch(partition: int, items: list[tuple[bytes, bytes]]) -> None:
            batch = rocksdict.WriteBatch(raw_mode=True)
            for key, value in items:
                batch.put(key, value)
            store._db_for_partition(partition).write(batch)
        return write_batch

    def write_each(partition: int, items: list[tuple[bytes, bytes]]) -> None:
        with _tables_at(partition):
            for key, value in items:
                store._set(key, value)
    return write_each


class RecordCache:
    """The records this worker wrote last, decoded, by key (least recently used out first).

    Only what the table holds, after the table was written: a hit is the table's value
    without its read and decode. Cleared on every rebalance.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._records: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def get(self, key: str, load: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
        record = self._records.get(key)
        if record is not None:
            self._records.move_to_end(key)
            return record
        return load()

    def put(self, key: str, record: dict[str, Any]) -> None:
        if self._size <= 0:
            return
        self._records[key] = record
        self._records.move_to_end(key)
        if len(self._records) > self._size:
            self._records.popitem(last=False)

    def clear(self) -> None:
        self._records.clear()


@dataclass(frozen=True, slots=True)
class Folded:
    """A window closed and not yet committed: its batches (their tokens and records,
    aiokafka's), the processor's results per partition, and the messages to send for them."""

    batches: list[tuple[Any, Sequence[Any]]]
    results: list[tuple[int, BatchResult]]
    outputs: list[Outgoing]
    written: dict[str, bytes]  # each changed record as encoded for its output (and table)


class Open:
    """The batches folded since the last window closed: a window per partition (a table
    reads and writes one partition at a time, see ``_tables_at``), and each batch's
    records with the token that keeps a rebalance waiting for them."""

    def __init__(self) -> None:
        self.windows: dict[int, Window] = {}
        self.batches: list[tuple[Any, Sequence[Any]]] = []
        self.since = 0.0  # monotonic time of its first batch

    def __bool__(self) -> bool:
        return bool(self.batches)

    @property
    def messages(self) -> int:
        return sum(window.messages for window in self.windows.values())

    @property
    def generation(self) -> int:
        """The consumer generation its batches were taken in (that of the first)."""
        return int(self.batches[0][0].generation)


def _die(kind: str, exc: BaseException) -> NoReturn:
    """End the process without acknowledging the batch that failed (at-least-once)."""
    log.critical("%s join: a batch failed (%r); exiting without acknowledging it, so that it "
                 "is processed again after the restart", kind, exc, exc_info=exc)
    logging.shutdown()
    os._exit(70)  # EX_SOFTWARE; the supervisor (compose, systemd, the harness) restarts it


def _incoming(record: Any) -> Incoming:
    """A fetched record (aiokafka's ConsumerRecord) as the processor takes it."""
    return Incoming(record.topic, record.partition, record.offset, record.key, record.value,
                    dict(record.headers or ()))


def _wire(
    app: faust.App,
    kind: str,
    registry: SchemaRegistry,
    settings: Settings,
    metrics: WorkerMetrics,
) -> None:
    output_topic = JOINS[kind]
    source_topics = join_sources(registry, kind)
    source = app.topic(*source_topics, key_serializer="raw", value_serializer="raw")
    for name in (output_topic, DEAD_LETTER, OWNER_LINKS, OWNER_SNAPSHOTS, PROBE_REPLIES):
        app.topic(name, key_serializer="raw", value_serializer="raw")  # declared, not wrapped
    changelog = changelog_topic(settings.worker_app_id, kind)

    class Table(faust.Table[bytes, Any]):
        def _changelog_topic_name(self) -> str:
            # Faust's would be named by this app's id (see app_id_for); this one is
            # pre-created (ensure_worker_topics) and granted by the worker's id prefix.
            return changelog

    table = Table(app, name=table_name(kind), default=None, key_type=bytes,
                  value_type=bytes, beacon=app.tables.beacon,
                  partitions=settings.topic_partitions)
    app.tables.add(table)  # values: the records' JSON (see load)
    # The table is written as Faust's Table.__setitem__ writes it (store, then changelog), but
    # the changelog goes straight to the producer and each batch awaits its confirmation:
    # Faust's buffered send_soon path took ~100 ms per batch to drain under load (measured
    # with exchange_batch_confirm_seconds), and only logs a send that fails.
    store: Any = table.data
    if store._encode_key(b"\x00key") != b"\x00key":  # keys are written as they are
        raise RuntimeError(f"the table {table.name} encodes its bytes keys")
    write = _store_writer(store)
    cache = RecordCache(settings.worker_record_cache)

    async def forget(_sender: Any, /, *_args: Any, signal: Any, **_kwargs: Any) -> None:
        # After a rebalance another worker may have changed a partition this one had:
        # only the table (restored from the changelog) is right then.
        cache.clear()

    app.on_partitions_revoked.connect(forget)
    app.on_partitions_assigned.connect(forget)

    # Table values are the records as the output topic has them (records_codec.encode): the
    # bytes the window already wrote for its outputs, so the table costs no second encoding
    # (orjson.dumps of each record was 5 % of the worker in a py-spy profile of make
    # bench-join, and its JSON a third larger for RocksDB and the changelog). A miss of the
    # record cache reads one back in C (records_codec.decode), as fast as orjson's loads.
    # Tables written before hold JSON; records_codec.from_table reads both.
    def load(key: str) -> dict[str, Any] | None:
        raw = store._get(key.encode())
        return None if raw is None else records_codec.from_table(raw)

    outbox = Outbox.of(app)

    # Records of windows closed but not yet committed, by key: the next window is folded
    # while the one before waits for the broker, and must see what that one changed.
    pending: dict[str, dict[str, Any]] = {}

    def lookup(key: str) -> dict[str, Any] | None:
        return pending.get(key) or cache.get(key, lambda: load(key))

    def fold(window: Open, records: Sequence[Any], token: Any) -> None:
        """Fold one batch into the open window."""
        # A table reads and writes the changelog partition (and RocksDB partition) of the
        # current event; a batch spans partitions, so each partition's group goes under its own.
        by_partition: dict[int, list[Incoming]] = defaultdict(list)
        for record in records:
            by_partition[record.partition].append(_incoming(record))
        if not window:
            window.since = time.monotonic()
        window.batches.append((token, records))
        for partition, group in by_partition.items():
            folding = window.windows.get(partition)
            if folding is None:
                folding = window.windows[partition] = Window(KINDS[kind], lookup, registry)
            # table reads go to the RocksDB partition of the group
            with _tables_at(partition), metrics.merge_seconds.labels(kind).time():
                folding.fold(group)

    def close(window: Open) -> Folded:
        """The window's results, and the messages to send for them (not yet sent)."""
        done: list[tuple[int, BatchResult]] = []
        sends: list[Outgoing] = []
        written: dict[str, bytes] = {}
        for partition, folding in window.windows.items():
            result = folding.result()
            done.append((partition, result))
            for key, record in result.records.items():
                pending[key] = record
                value = written[key] = records_codec.encode(record)
                sends.append(Outgoing(output_topic, key.encode(), value))
            for topic, key, value in result.outgoing:
                sends.append(Outgoing(topic, key.encode(), value))
            for dl in result.dead_letters:
                sends.append(Outgoing(
                    DEAD_LETTER, dl.incoming.key,
                    records_codec.dead_letter_value(dl, settings.max_event_bytes),
                    records_codec.dead_letter_headers(dl)))
                log.warning("dead letter %s[%d]@%d: %s: %s", dl.incoming.topic,
                            dl.incoming.partition, dl.incoming.offset, dl.error_class,
                            dl.reason)
            metrics.record_batch(kind, folding.messages, result)
        return Folded(window.batches, done, sends, written)

    async def commit(batch: Folded) -> None:
        """Return only once everything ``batch`` produced is on the broker and in the table.

        Order matters for at-least-once: outputs and join messages are confirmed *before*
        the table is written, and the table's changelog before the batch is acknowledged.
        So a record the table already holds has had its outputs delivered, and a message
        redelivered after a crash that changes nothing needs nothing re-sent (its record is
        only written to the table again, see BatchResult.unchanged).
        """
        with metrics.confirm_seconds.labels(kind, "outputs").time():
            await outbox.flush(batch.outputs)
        entries: list[Outgoing] = []
        for partition, result in batch.results:
            changed = []
            # Changed records as they were sent; unchanged ones were not, and are encoded here.
            table_values = [(key, record, batch.written[key])
                            for key, record in result.records.items()]
            table_values += [(key, record, records_codec.encode(record))
                             for key, record in result.unchanged.items()]
            for key, record, value_bytes in table_values:
                key_bytes = key.encode()
                changed.append((key_bytes, value_bytes))
                cache.put(key, record)
                if pending.get(key) is record:  # a later batch may have changed it since
                    del pending[key]
                entries.append(Outgoing(changelog, key_bytes, value_bytes, None, partition))
            write(partition, changed)
        with metrics.confirm_seconds.labels(kind, "changelog").time():
            written = await outbox.flush(entries)
        # What Faust's own changelog callback records: where a restore of the local store
        # may start (the store keeps it per partition).
        last_offsets: dict[int, int] = {}
        for sent in written:
            last_offsets[sent.partition] = max(sent.last_offset,
                                               last_offsets.get(sent.partition, -1))
        for partition, offset in last_offsets.items():
            store.set_persisted_offset(TP(changelog, partition), offset)

    # The source topics are subscribed, but their records go to the intake, not to a stream.
    app.topics.add(source)
    intake = Intake(kind, source_topics, capacity=4 * settings.worker_batch_size)
    consumer: Any = app.consumer
    consumer.add_intake(intake)

    def release(batches: list[tuple[Any, Sequence[Any]]]) -> None:
        """Let go of batches unacknowledged: they are read again."""
        for token, _ in batches:
            consumer.release_batch(token)

    @contextmanager
    def unacknowledged_unless_done(batches: list[tuple[Any, Sequence[Any]]]) -> Iterator[None]:
        """Batches that a stop (cancellation) interrupts in this block stay unacknowledged,
        to be read again, and so do they if it fails, which ends the process (the join must
        not go on past them)."""
        try:
            yield
        except asyncio.CancelledError:
            release(batches)
            raise
        except Exception as exc:  # noqa: BLE001 - anything: never acknowledge these batches
            _die(kind, exc)

    async def committed(window: Folded) -> None:
        """Commit ``window``, then acknowledge its batches."""
        with unacknowledged_unless_done(window.batches):
            await commit(window)
        for token, records in window.batches:
            consumer.ack_batch(token, records)

    def full(window: Open) -> bool:
        """Whether the open window must close although more records are waiting."""
        return (window.messages >= settings.worker_window_messages
                or time.monotonic() - window.since >= settings.worker_window_seconds)

    async def join() -> None:
        """Fold batch after batch into a window, and commit the window when the join has
        caught up with its intake or the window is full (see :class:`Window`); each window
        is committed after the one before it, so outputs, table writes and acknowledgements
        keep their order. A window is folded while the one before it is committed (waiting
        for the broker), and closes as soon as that commit ends if nothing is waiting."""
        before: asyncio.Task[None] | None = None  # the commit of the window before
        window = Open()

        async def commit_window() -> None:
            # Closed (its records encoded) while the window before is still committed, then
            # committed once that one is: at most one window waits behind the broker.
            nonlocal before, window
            closing, window = window, Open()
            with unacknowledged_unless_done(closing.batches):
                folded = close(closing)
                if before is not None:
                    await before
            before = asyncio.ensure_future(committed(folded))

        try:
            while not app.should_stop:
                if window and (not len(intake) or app.rebalancing):
                    # Caught up (or a rebalance waits for these batches): commit the window
                    # once the window before it is committed; fold what arrives meanwhile.
                    if before is None or before.done() or app.rebalancing:
                        await commit_window()
                    else:
                        arrival = asyncio.ensure_future(intake.wait(timeout=1.0))
                        await asyncio.wait((arrival, before),
                                           return_when=asyncio.FIRST_COMPLETED)
                        arrival.cancel()
                    continue
                if not await intake.wait(timeout=1.0):
                    continue  # look for a stop now and then
                if app.rebalancing:
                    # Partitions are moving or tables restoring: nothing is folded until the
                    # rebalance ends (what was fetched before it is dropped, and read again).
                    await asyncio.sleep(0.05)
                    continue
                if window and window.generation != app.consumer_generation_id:
                    # A rebalance came and went: the window's records may be of partitions
                    # that were another worker's meanwhile; none is folded further.
                    await commit_window()
                    continue
                records = intake.take(settings.worker_batch_size, app.consumer_generation_id)
                if not records:
                    continue
                token = consumer.track_batch(len(records))
                with unacknowledged_unless_done([(token, records)]):
                    fold(window, records, token)
                if full(window):
                    await commit_window()
                else:
                    # Let the fetcher (and the other join) run between batches: ``intake.wait``
                    # returns at once while records wait, so without this the intake was
                    # only refilled once the join had emptied it, and every window closed
                    # as if caught up after a few thousand messages (make bench-join: three
                    # windows per partition where two suffice, ~10 % more CPU per message).
                    await asyncio.sleep(0)
            release(window.batches)  # stopping: folded, not committed, read again
            window = Open()
            if before is not None:
                await before
        except asyncio.CancelledError:
            pending.clear()  # folded windows that were not committed: read again
            release(window.batches)
            if before is not None:
                before.cancel()
            raise

    join.__qualname__ = f"{kind}_join"  # the name Faust gives its task
    app.task(join)

    if settings.worker_stats_interval_seconds > 0:
        async def table_stats() -> None:
            # A full scan of this worker's partitions: cheap next to the join at the sizes
            # we run; set the interval to 0 to turn it off on very large tables.
            metrics.record_scan(kind, scan(records_codec.from_table(value)
                                           for _, value in table.items() if value is not None))

        app.timer(settings.worker_stats_interval_seconds, name=f"{kind}-stats")(table_stats)
