"""What the join benchmarks share: who talks to the broker as whom, offsets, the worker.

A measurement runs on one broker, plain or secured. :class:`Access` says which client options
each party uses there: on a plain broker everyone is the same anonymous client; on the
secured one (``deploy/kafka/secure.py``) departments publish as themselves, the worker runs as
its principal, the desk reads the unified topics and the admin observes offsets.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from exchange.kafka_retry import while_unavailable
from exchange.localbroker import load_localkafka
from exchange.principals import ADMIN, DESK, WORKER
from exchange.schemas import SchemaRegistry
from exchange.worker.app import JOINS, app_id_for, join_sources
from exchange.worker.harness import WireMessage, WorkerProcess

Options = Mapping[str, Any]


class Subject(Protocol):
    """What is measured: consumer groups that republish what they read (the worker, a
    passthrough)."""

    group: str  # its name in messages

    def groups(self, sources: list[str]) -> dict[str, list[str]]:
        """Each consumer group of the subject and the topics of ``sources`` it reads."""
        ...

    def start(self) -> None: ...
    def check(self) -> None: ...
    def stop(self) -> Any: ...
    def metrics(self) -> dict[str, float]: ...

    def pause(self) -> None:
        """Stop taking messages (at once: nothing is folded or copied until :meth:`resume`)."""
        ...

    def resume(self) -> None: ...

    def cpu_seconds(self) -> float:
        """CPU seconds (user and system) its processes, or its thread, have used so far."""
        ...


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds process ``pid`` has used so far (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: The environment of a Faust subject that is paused while the bulk is published: a group
#: session that outlasts the pause (Faust's heartbeat thread stops with the process).
PAUSABLE = {"EXCHANGE_WORKER_SESSION_TIMEOUT_SECONDS": "60"}


class Paused:
    """Pause and resume for subjects that are child processes: SIGSTOP and SIGCONT."""

    def processes(self) -> list[Any]:
        return [self.proc]  # type: ignore[attr-defined]

    def pause(self) -> None:
        for proc in self.processes():
            proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        for proc in self.processes():
            proc.send_signal(signal.SIGCONT)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(proc.pid) for proc in self.processes())


@dataclass(frozen=True)
class Access:
    """Client options of each party of a measurement on one broker."""

    bootstrap: str
    admin: Options  # observes offsets and groups (the super user on a secured broker)
    reader: Options  # reads the unified output topics (the desk)
    worker_env: Mapping[str, str]  # environment of ``exchange worker`` (its principal)
    app_prefix: str = "bench"  # the worker's ACLs cover app ids with this prefix
    departments: Mapping[str, Options] = field(default_factory=dict)  # publishers; else admin

    def publisher(self, department: str) -> Options:
        """Options of the producer that publishes ``department``'s events."""
        return self.departments.get(department, self.admin)

    def app_id(self, what: str) -> str:
        """A fresh application id (consumer group, changelog prefix) for one run."""
        return f"{self.app_prefix}-{what}-{uuid.uuid4().hex[:6]}"

    @classmethod
    def plain(cls, bootstrap: str) -> Access:
        """Everyone the same anonymous client of a plain broker."""
        options = {"bootstrap_servers": bootstrap.split(",")}
        return cls(bootstrap, options, options, {})

    @classmethod
    def secured(cls, kafka: Any, departments: Iterable[str]) -> Access:
        """Each party as its principal on a ``SecureKafka`` broker."""
        worker = kafka.client_settings(WORKER)
        return cls(
            kafka.bootstrap, kafka.client_settings(ADMIN).kafka_client_options(),
            kafka.client_settings(DESK).kafka_client_options(),
            {"EXCHANGE_KAFKA_SECURITY_PROTOCOL": worker.kafka_security_protocol,
             "EXCHANGE_KAFKA_SASL_MECHANISM": worker.kafka_sasl_mechanism,
             "EXCHANGE_KAFKA_USERNAME": worker.kafka_username or "",
             "EXCHANGE_KAFKA_PASSWORD": worker.kafka_password.get_secret_value()
             if worker.kafka_password else ""},
            worker.worker_app_id,
            {d: kafka.client_settings(d).kafka_client_options() for d in departments},
        )


class OneGroup:
    """A subject that reads all its sources as one consumer group, ``group``."""

    group: str

    def groups(self, sources: list[str]) -> dict[str, list[str]]:
        return {self.group: sources}


def worker_sources(registry: SchemaRegistry) -> list[str]:
    """Every topic the worker's agents consume."""
    return [topic for kind in JOINS for topic in join_sources(registry, kind)]


def department_of(message: WireMessage) -> str:
    """The department that publishes ``message`` (its header)."""
    return dict(message.headers)["department"].decode()


def department_producers(access: Access, messages: Iterable[WireMessage],
                         **options: Any) -> dict[str, Any]:
    """One connected producer (acks=all, idempotent) per department of ``messages``, each
    authenticated as its department; connections and metadata are set up here, not later."""
    from kafka import KafkaProducer

    topic_of = {department_of(m): m.topic for m in messages}
    out = {}
    for department, topic in sorted(topic_of.items()):
        out[department] = KafkaProducer(**access.publisher(department), acks="all",
                                        enable_idempotence=True, **options)
        out[department].partitions_for(topic)
    return out


def send_all(access: Access, messages: list[WireMessage]) -> None:
    """Publish ``messages`` as their departments; raise unless every one is confirmed."""
    by_department = department_producers(access, messages, linger_ms=5)
    try:
        futures = [by_department[department_of(m)].send(m.topic, key=m.key, value=m.value,
                                                        headers=m.headers)
                   for m in messages]
        for producer in by_department.values():
            producer.flush(timeout=120)
        failed = sum(1 for f in futures if not f.succeeded())
        if failed:
            raise RuntimeError(f"{failed} of {len(messages)} messages not confirmed")
    finally:
        for producer in by_department.values():
            producer.close()


def partitions(options: Options, topics: Iterable[str]) -> list[Any]:
    """Every partition of ``topics``."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**options)
    try:
        return [TopicPartition(t, p) for t in topics
                for p in sorted(consumer.partitions_for_topic(t) or [])]
    finally:
        consumer.close()


def end_offsets(options: Options, topics: Iterable[str]) -> dict[Any, int]:
    """The log end offset of every partition of ``topics``."""
    from kafka import KafkaConsumer

    tps = partitions(options, topics)
    consumer = KafkaConsumer(**options)
    try:
        return dict(consumer.end_offsets(tps))
    finally:
        consumer.close()


def start_at_end(options: Options, group: str, topics: Iterable[str]) -> None:
    """Commit the log end of ``topics`` for the (new, empty) ``group``: its consumers skip
    what earlier measurements left there and read only what is published from now on."""
    from kafka.admin import KafkaAdminClient, OffsetSpec

    specs = {tp: OffsetSpec.LATEST for tp in partitions(options, topics)}
    admin = KafkaAdminClient(**options)
    try:  # a fresh broker creates its offsets topic first
        done = while_unavailable(lambda: admin.reset_group_offsets(group, specs), 60)
    finally:
        admin.close()
    failed = {tp: r["error"] for tp, r in done.items() if r["error"].errno != 0}
    if failed:
        raise RuntimeError(f"cannot start group {group} at the end: {failed}")


def committed_all(options: Options, group: str, ends: Mapping[Any, int]) -> bool:
    """Whether ``group`` has committed at least ``ends`` on every non-empty partition."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(**options)
    try:
        offsets = admin.list_group_offsets({group: None}).get(group, {})
    except KafkaError:  # the group has no coordinator yet: nothing committed
        return False
    finally:
        admin.close()
    return all(offsets.get(tp) is not None and offsets[tp].offset >= end
               for tp, end in ends.items() if end > 0)


def output_span(options: Options, topics: list[str], since_ms: int) -> tuple[float, float]:
    """Wall times (s) of the first and the last message written on ``topics`` since
    ``since_ms`` (producer timestamps): one read at each end of every partition."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(**options, group_id=None, enable_auto_commit=False)
    try:
        tps = partitions(options, topics)
        ends = consumer.end_offsets(tps)
        starts = consumer.offsets_for_times({tp: since_ms for tp in tps})
        stamps: list[int] = []
        for tp in tps:
            if starts[tp] is None:
                continue
            for offset in {starts[tp].offset, ends[tp] - 1}:
                stamps.append(_timestamp_at(consumer, tp, offset))
        if not stamps:
            raise RuntimeError(f"nothing written on {topics} since {since_ms}")
        return min(stamps) / 1000, max(stamps) / 1000
    finally:
        consumer.close()


def _timestamp_at(consumer: Any, tp: Any, offset: int) -> int:
    consumer.assign([tp])
    consumer.seek(tp, offset)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500, max_records=1).values():
            return int(records[0].timestamp)
    raise TimeoutError(f"no message at {tp.topic}[{tp.partition}]@{offset}")


class BenchWorker(OneGroup, Paused, WorkerProcess):
    """``exchange worker`` as its principal, with its metrics endpoint on a free port."""

    def __init__(self, access: Access, app_id: str, data_dir: Path,
                 extra_env: Mapping[str, str] | None = None, joins: Sequence[str] = ()) -> None:
        self.metrics_port = load_localkafka().free_ports(1)[0]
        # No periodic table scans: a scan landing inside a short measured phase would be
        # counted as join cost in one run and not in the next.
        super().__init__(access.bootstrap, app_id, data_dir,
                         {**access.worker_env, **(extra_env or {}),
                          "EXCHANGE_WORKER_METRICS_PORT": str(self.metrics_port),
                          "EXCHANGE_WORKER_STATS_INTERVAL_SECONDS": "0",
                          **PAUSABLE}, joins)
        self.group = app_id_for(app_id, joins)

    def check(self) -> None:
        """Raise, with its log, if the worker has died."""
        if not self.alive():
            raise RuntimeError(f"the worker died:\n{self.log_tail()}")

    def metrics(self) -> dict[str, float]:
        """The worker's counters and histogram sums now, by sample name and kind."""
        from prometheus_client.parser import text_string_to_metric_families

        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            text = answer.read().decode()
        out: dict[str, float] = defaultdict(float)
        for family in text_string_to_metric_families(text):
            if not family.name.startswith("exchange_"):
                continue
            for sample in family.samples:
                kind = sample.labels.get("kind", "")
                if sample.name.endswith(("_sum", "_count", "_total")):
                    out[f"{sample.name}:{kind}"] += sample.value
        return dict(out)


class SplitWorker(Paused):
    """The worker split by join: ``exchange worker --join KIND``, one process per record kind,
    each its own consumer group (see :func:`exchange.worker.app.app_id_for`)."""

    def __init__(self, access: Access, registry: SchemaRegistry, app_id: str, data_dir: Path,
                 extra_env: Mapping[str, str] | None = None) -> None:
        self.group = app_id
        self.parts = {kind: BenchWorker(access, app_id, data_dir, extra_env, (kind,))
                      for kind in JOINS}
        self._registry = registry

    def processes(self) -> list[Any]:
        return [part.proc for part in self.parts.values()]

    def groups(self, sources: list[str]) -> dict[str, list[str]]:
        """Each process's consumer group and the topics of ``sources`` it reads."""
        wanted = set(sources)
        return {part.group: [t for t in join_sources(self._registry, kind) if t in wanted]
                for kind, part in self.parts.items()}

    def start(self) -> None:
        for part in self.parts.values():
            part.start()

    def check(self) -> None:
        for part in self.parts.values():
            part.check()

    def stop(self) -> None:
        for part in self.parts.values():
            part.stop()

    def metrics(self) -> dict[str, float]:
        """Both processes' counters (their samples are labelled by kind)."""
        out: dict[str, float] = defaultdict(float)
        for part in self.parts.values():
            for name, value in part.metrics().items():
                out[name] += value
        return dict(out)


def batch_stats(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, Any]:
    """Batches the worker folded between two scrapes, per record kind: how many, their mean
    size (messages of one partition), mean fold time and wait for the broker's confirmation,
    and the records published."""
    out: dict[str, Any] = {}
    for kind in ("enterprise", "property"):
        def delta(name: str, k: str = kind) -> float:
            key = f"{name}:{k}"
            return after.get(key, 0.0) - before.get(key, 0.0)
        batches = delta("exchange_batch_messages_count")
        if not batches:
            continue
        out[kind] = {
            "batches": int(batches),
            "mean_batch_messages": round(delta("exchange_batch_messages_sum") / batches, 1),
            "mean_fold_ms": round(delta("exchange_merge_batch_seconds_sum")
                                  / max(1.0, delta("exchange_merge_batch_seconds_count"))
                                  * 1000, 2),
            "records_published": int(delta("exchange_records_published_total")),
        }
        confirm = delta("exchange_batch_confirm_seconds_sum")  # both stages, where exported
        if confirm:
            out[kind]["mean_confirm_ms"] = round(confirm / batches * 1000, 2)
    return out

