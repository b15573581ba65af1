"""Poison on the department topics: every message dead-lettered, no agent exits, no stall.

The worker runs as its own process against the real broker. Hypothesis draws a bounded
number of poisoned messages per class of damage up front (:mod:`poison_cases`: raw bytes,
truncated Avro, unknown fingerprints, a schema from the future, payloads beyond the size
limit up to what the broker accepts, invalid identifiers, key != envelope key, tombstones,
empty values); they are sent in one go, followed by valid events, to a worker that is already
consuming. Then:

* every poisoned message is in the dead-letter topic, matched by its own topic, partition and
  offset (headers ``original_topic/original_partition/original_offset``), with a reason;
* the worker process is alive, its log shows no crashed agent, and the valid events sent
  *after* the poison are joined (their unified records equal the reference fold);
* **no partition stalls**: the poison is spread round-robin over every partition of its
  topic (huge ones first), so each gets a similar share, and is sent once the worker has
  caught up with everything already on the topics (its group's lag is 0). A message's *lag*
  is the dead letter's record timestamp (set by the worker's producer) minus the moment the
  broker acknowledged the poisoned record to us: both from this host's clock, so neither
  our producer's transfer time nor any reader's polling enters the measure. A partition's
  drain time is its largest lag; the spread between the slowest and the fastest partition
  must stay within ``STALL_BOUND`` = 1 s. A worker that moves through
  its partitions together drains them within a batch or two of each other, however loaded
  the machine; a partition stuck on one message (retrying, blocked on a send, its agent
  gone) misses the bound by the whole wait. The measured lags and spread are printed.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from poison_cases import Poison, PoisonFactory, future_registry

from exchange.schemas import default_registry
from exchange.settings import REPO_ROOT, load_settings
from exchange.topics import DEAD_LETTER, ensure_bus_topics
from exchange.worker.harness import (
    OutputReader,
    WorkerProcess,
    differences,
    reference_of,
    send_raw,
    wait_until,
    wire_messages,
)
from producers.simulator import simulate

pytestmark = pytest.mark.integration

PER_CLASS = 6  # examples per class of damage (huge classes: HUGE_PER_CLASS)
HUGE_PER_CLASS = 2
PRODUCER_MAX_REQUEST = 1_048_576  # kafka-python's default, stated: the raw producer's limit
POLL_S = 0.2
STALL_BOUND = 1.0


def draw(strategy: st.SearchStrategy[Poison], n: int) -> list[Poison]:
    """``n`` (or fewer, if the space is smaller) examples of ``strategy``, drawn up front."""
    drawn: list[Poison] = []

    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(poison: Poison) -> None:
        drawn.append(poison)

    collect()
    return drawn


def broker_max_message_bytes(bootstrap: str, topic: str) -> int:
    """``max.message.bytes`` the broker applies to ``topic`` (its own default if not set)."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        response = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)],
                                          config_filter="all")
        entry = response["topic"][topic].get("max.message.bytes")
        if entry is not None:
            return int(entry["value"])
    finally:
        admin.close()
    raise AssertionError(f"the broker did not report max.message.bytes of {topic}")


def send_poison(bootstrap: str, poison: list[Poison]
                ) -> dict[tuple[str, int, int], tuple[Poison, int]]:
    """Send every message as it is, spread round-robin over its topic's partitions (the huge
    ones first, so no partition gets two while another has none); return them by (topic,
    partition, offset) once acknowledged, with the time (ms) the broker acknowledged each."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all",
                             max_request_size=PRODUCER_MAX_REQUEST, linger_ms=5)
    try:
        turn: dict[str, int] = defaultdict(int)
        acked: dict[int, int] = {}  # id(poison) -> ms when the broker acknowledged it
        futures = []
        for p in sorted(poison, key=lambda p: not p.kind.startswith("huge")):
            partitions = sorted(producer.partitions_for(p.topic))
            partition = partitions[turn[p.topic] % len(partitions)]
            turn[p.topic] += 1
            future = producer.send(p.topic, key=p.key, value=p.value,
                                   headers=list(p.headers), partition=partition)
            key = id(p)
            future.add_callback(lambda _meta, k=key: acked.setdefault(k, time.time_ns()
                                                                       // 1_000_000))
            futures.append((p, future))
        producer.flush(timeout=120)
        sent = {}
        for p, future in futures:
            meta = future.get(timeout=30)
            sent[meta.topic, meta.partition, meta.offset] = (p, acked[id(p)])
        return sent
    finally:
        producer.close()


def group_lag(bootstrap: str, group: str, topics: list[str]) -> int:
    """Messages of ``topics`` the consumer group has not committed yet (all partitions)."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None)
    try:
        fetched = admin.list_group_offsets({group: None}).get(group, {})
        committed = {tp: om.offset for tp, om in fetched.items() if om.offset >= 0}
        tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t)]
        ends = consumer.end_offsets(tps)
        return sum(end - committed.get(tp, 0) for tp, end in ends.items())
    finally:
        consumer.close()
        admin.close()


def dead_letter_times(bootstrap: str, start: dict[int, int], until: float
                      ) -> dict[tuple[str, int, int], int]:
    """Timestamps (ms, set by the worker's producer) of the dead letters from ``start``
    offsets on, by the original topic, partition and offset they name."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None,
                             enable_auto_commit=False)
    try:
        tps = [TopicPartition(DEAD_LETTER, p) for p in start]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, start[tp.partition])
        ends = consumer.end_offsets(tps)
        out: dict[tuple[str, int, int], int] = {}
        while any(consumer.position(tp) < ends[tp] for tp in tps) and time.monotonic() < until:
            for messages in consumer.poll(timeout_ms=500).values():
                for m in messages:
                    h = {k: v.decode() for k, v in m.headers or []}
                    out[h["original_topic"], int(h["original_partition"]),
                      int(h["original_offset"])] = m.timestamp
        return out
    finally:
        consumer.close()


def dead_letter_ends(bootstrap: str) -> dict[int, int]:
    """End offset of each dead-letter partition now."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None)
    try:
        tps = [TopicPartition(DEAD_LETTER, p) for p in consumer.partitions_for_topic(DEAD_LETTER)]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def test_poison_is_dead_lettered_and_nothing_stalls(kafka_bootstrap: str,
                                                    tmp_path: Path) -> None:
    registry = default_registry()
    bus = load_settings(kafka_bootstrap=kafka_bootstrap)
    ensure_bus_topics(bus, registry)
    # the topics the join consumes (the desk's own application topic is not one of them)
    join_topics = registry.topics("enterprise") + registry.topics("property")
    broker_max = broker_max_message_bytes(kafka_bootstrap, join_topics[0])
    huge_max = min(broker_max, PRODUCER_MAX_REQUEST) - 4096  # room for key, headers, batch
    assert huge_max > bus.max_event_bytes, (broker_max, bus.max_event_bytes)
    factory = PoisonFactory(registry, future_registry(REPO_ROOT / "schemas", tmp_path / "v2"),
                            [e for e in simulate(12, 8, seed=606) if e.invalid_reason is None],
                            bus.max_event_bytes, huge_max)
    poison = [p for kind, strategy in factory.strategies().items()
              for p in draw(strategy, HUGE_PER_CLASS if kind.startswith("huge") else PER_CLASS)]
    warm_up = wire_messages(simulate(5, 3, seed=607), registry)
    after = wire_messages(simulate(10, 6, seed=608), registry)
    ref = reference_of(warm_up + after, registry)
    app_id = f"test-poison-{uuid.uuid4().hex[:8]}"
    worker = WorkerProcess(kafka_bootstrap, app_id, tmp_path)
    reader = OutputReader(kafka_bootstrap)
    seen: dict[tuple[str, int, int], dict[str, str]] = {}
    seen_at: dict[tuple[str, int, int], float] = {}

    def step() -> None:
        assert worker.alive(), f"the worker died:\n{worker.log_tail()}"
        before = len(reader.dead_letters)
        reader.poll(timeout_ms=int(POLL_S * 1000))
        now = time.monotonic()
        for letter in reader.dead_letters[before:]:
            where = (letter["original_topic"], int(letter["original_partition"]),
                     int(letter["original_offset"]))
            seen[where] = letter
            seen_at.setdefault(where, now)

    try:
        worker.start()
        assert send_raw(kafka_bootstrap, warm_up) == len(warm_up)
        first = reference_of(warm_up, registry)
        wait_until(lambda: not any(differences(first, reader).values()), 180, step,
                   lambda: f"the warm-up records\n{worker.log_tail()}")
        # The session's broker holds other tests' traffic: start the clock on an idle worker.
        wait_until(lambda: group_lag(kafka_bootstrap, app_id, join_topics) == 0, 180,
                   step, lambda: f"the worker caught up with the department topics "
                   f"(lag {group_lag(kafka_bootstrap, app_id, join_topics)})")
        dl_start = dead_letter_ends(kafka_bootstrap)
        t0 = time.monotonic()
        sent = send_poison(kafka_bootstrap, poison)
        flushed = time.monotonic()
        assert send_raw(kafka_bootstrap, after) == len(after)
        wait_until(lambda: set(sent) <= set(seen), 180, step,
                   lambda: "every poisoned message dead-lettered; missing: " + "; ".join(
                       f"{w}: {sent[w][0].describe()}" for w in sorted(set(sent) - set(seen)))
                   + f"\n{worker.log_tail()}")
        wait_until(lambda: not any(differences(ref, reader).values()), 120, step,
                   lambda: f"valid events after the poison joined ({differences(ref, reader)}"
                   f" differ)\n{worker.log_tail()}")
        assert worker.alive(), worker.log_tail()
    finally:
        worker.stop()
        reader.close()
    log = worker.log_path.read_text(errors="replace")
    assert "Crashed" not in log and "Traceback" not in log, worker.log_tail(80)

    by_kind: dict[str, int] = defaultdict(int)
    for where, (p, _) in sent.items():
        letter = seen[where]
        by_kind[p.kind] += 1
        assert letter["reason"] and letter["error_class"], (p.describe(), letter)
        if p.secret is not None:  # an invalid resident ID: never in clear in a reason or a log
            assert p.secret not in letter["reason"] and p.secret not in log, p.describe()
    assert {"raw bytes", "truncated avro", "wrong fingerprint", "schema from the future",
            "huge raw bytes", "huge valid avro", "tombstone", "empty value",
            "key differs from envelope key"} <= set(by_kind), by_kind
    assert any(k.startswith("invalid ") for k in by_kind), by_kind

    stamped = dead_letter_times(kafka_bootstrap, dl_start, time.monotonic() + 60)
    drained: dict[tuple[str, int], float] = defaultdict(float)
    for where, (_, sent_ms) in sent.items():
        drained[where[:2]] = max(drained[where[:2]], (stamped[where] - sent_ms) / 1000)
    spread = max(drained.values()) - min(drained.values())
    print(f"\npoison: {len(sent)} messages over {len(drained)} partitions "
          f"({dict(sorted(by_kind.items()))}); sent in {flushed - t0:.2f} s; worker's "
          f"dead-letter lag per partition: min {min(drained.values()):.2f} s, max "
          f"{max(drained.values()):.2f} s, spread {spread:.2f} s (bound {STALL_BOUND:.1f} s)")
    kinds: dict[tuple[str, int], list[str]] = defaultdict(list)
    for (topic, partition, _), (p, _) in sorted(sent.items()):
        kinds[topic, partition].append(p.kind)
    assert spread <= STALL_BOUND, "\n".join(
        f"{topic}[{partition}] drained {drained[topic, partition]:.2f} s after its send: "
        f"{kinds[topic, partition]}" for (topic, partition) in sorted(drained, key=drained.get))
