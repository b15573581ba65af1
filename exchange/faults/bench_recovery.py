"""``python -m exchange.faults.bench_recovery``: how long a killed worker takes to come back.

For each table size (``--keys``, e.g. 100000 and 1000000): one minimal valid
``seal.seal_engraved`` per credit code is published and folded by a worker, which builds an
enterprise table of that many keys (RocksDB, with its changelog topic). Then, ``--repeat``
times: the worker is killed with SIGKILL, one probe event for an existing key is published,
and a replacement with an *empty* data dir (a new host: the whole changelog is replayed into
RocksDB) is started. Measured from the kill:

- ``restored``: the replacement logs Faust's "Recovery complete" (tables restored);
- ``processing``: the probe's record is on the output topic, with the restored key's earlier
  event in its history (processing again, on the restored state);
- ``replay``: from "Restoring state from changelog topics" to "Recovery complete";

and, as the baseline, the time a plain kafka-python consumer takes to read the same
changelog topic end to end. Medians are printed where repeated. One broker (4 partitions).
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from exchange import codec
from exchange.faults.cluster import reset_bus_topics
from exchange.identifiers import make_credit_code
from exchange.localbroker import load_localkafka
from exchange.schemas import SchemaRegistry, default_registry
from exchange.settings import Settings, load_settings
from exchange.topics import ENTERPRISE_OUT, changelog_topic
from exchange.worker import records_codec
from producers.publisher import make_producer
from producers.unchecked import wire_headers

EVENT = "seal.seal_engraved"
T0 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
EXACT = 2000  # records of the synthetic table made by the processor itself


def seal_event(code: str, n: int) -> dict[str, Any]:
    """A minimal valid seal filing for ``code`` (the ``n``-th of this code)."""
    at = T0 + timedelta(minutes=n)
    return {
        "envelope": {"event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{code}:{n}")),
                     "department": "SEAL", "occurred_at": at, "key": code,
                     "trace_id": "bench-recovery"},
        "credit_code": code, "seal_kinds": ["OFFICIAL"],
        "filing_number": f"5101132024{n:08d}", "engraved_on": date(2024, 3, 1),
    }


def credit_codes(count: int, seed: int = 1) -> list[str]:
    """``count`` distinct valid credit codes."""
    rng, codes = random.Random(seed), set[str]()
    while len(codes) < count:
        codes.add(make_credit_code(rng, "510113"))
    return sorted(codes)


def publish(settings: Settings, registry: SchemaRegistry, events: list[dict[str, Any]]) -> float:
    """Encode (validated) and send ``events``, acks=all; seconds taken."""
    began = time.monotonic()
    producer = make_producer(settings)
    topic = registry.event(EVENT).topic
    for record in events:
        producer.send(topic, key=record["credit_code"].encode(),
                      value=codec.encode(EVENT, record, registry=registry),
                      headers=wire_headers(registry, EVENT, record))
    producer.flush(timeout=600)
    producer.close()
    return time.monotonic() - began


def write_changelog(settings: Settings, registry: SchemaRegistry, changelog: str,
                    events: list[dict[str, Any]]) -> float:
    """Write the table the worker would build for ``events`` straight into its changelog.

    The first ``EXACT`` records are what the worker's own processor makes of their events,
    the others that record with the credit code and event id replaced; serialized as the
    worker writes its table (raw key, the record as the output topic has it), on the partition of
    the event's key (the same default partitioner as the department publisher, so tables
    stay co-partitioned). The probe of every recovery checks that the replacement restored
    such a record. Seconds taken.
    """
    from exchange.topics import TopicSpec, ensure_topics
    from exchange.worker.processor import Incoming, process_enterprise_batch

    began = time.monotonic()
    ensure_topics(settings.kafka_client_options(), [TopicSpec(changelog, compacted=True)],
                  settings.topic_partitions, settings.topic_replication)
    producer = make_producer(settings)
    topic = registry.event(EVENT).topic
    exact = events[:EXACT]
    batch = [Incoming(topic, 0, i, r["credit_code"].encode(),
                      codec.encode(EVENT, r, registry=registry),
                      dict(wire_headers(registry, EVENT, r))) for i, r in enumerate(exact)]
    records = process_enterprise_batch(batch, lambda key: None, registry).records
    for key, record in records.items():
        producer.send(changelog, key=key.encode(), value=records_codec.encode(record))
    # The rest differ from the first only in credit code and event id: the processor's
    # record for the first, with those two replaced (same size, same shape: same lengths, so
    # the lengths written before them still hold).
    first = events[0]
    template = records_codec.encode(records[first["credit_code"]])
    code0, id0 = first["credit_code"].encode(), first["envelope"]["event_id"].encode()
    for r in events[EXACT:]:
        code = r["credit_code"].encode()
        value = template.replace(code0, code).replace(id0, r["envelope"]["event_id"].encode())
        producer.send(changelog, key=code, value=value)
    producer.flush(timeout=1800)
    producer.close()
    return time.monotonic() - began


def end_sum(bootstrap: str, topic: str) -> int:
    """Sum of the end offsets of ``topic``."""
    from exchange.faults.observe import end_offsets

    return sum(end_offsets(bootstrap, (topic,)).values())


def read_through(bootstrap: str, topic: str) -> float:
    """Baseline: a plain consumer reads ``topic`` from the beginning to its end offsets."""
    from kafka import KafkaConsumer, TopicPartition

    began = time.monotonic()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             group_id=None, max_poll_records=10_000)
    parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    ends = consumer.end_offsets(parts)
    while any(consumer.position(tp) < ends[tp] for tp in parts):
        consumer.poll(timeout_ms=500)
    consumer.close()
    return time.monotonic() - began


class Worker:
    """``exchange worker --loglevel info`` (Faust's recovery lines are logged at info)."""

    def __init__(self, bootstrap: str, app_id: str, data_dir: Path) -> None:
        import os

        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir / "worker.log"
        env = {**os.environ, "EXCHANGE_KAFKA_BOOTSTRAP": bootstrap,
               "EXCHANGE_WORKER_APP_ID": app_id, "EXCHANGE_DATA_DIR": str(data_dir),
               "EXCHANGE_WORKER_METRICS_PORT": "0", "EXCHANGE_WORKER_BATCH_SIZE": "2000"}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "exchange.cli", "worker",
                                          "--loglevel", "info"], env=env, stdout=out,
                                         stderr=subprocess.STDOUT)

    def logged(self, text: str) -> bool:
        """Whether the worker has logged ``text``."""
        return text in self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)


def wait(condition: Any, timeout: float, what: str, worker: Worker | None = None) -> float:
    """Poll ``condition`` every 0.1 s; the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if worker is not None and worker.proc.poll() is not None:
            raise RuntimeError(f"worker exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)
    return time.monotonic()


def probe_seen(bootstrap: str, key: str, event_ids: set[str]) -> Any:
    """A poll function: true once the output holds ``key`` with all ``event_ids``."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(ENTERPRISE_OUT, bootstrap_servers=bootstrap, group_id=None,
                             auto_offset_reset="latest", enable_auto_commit=False)
    consumer.poll(timeout_ms=2000)  # assignment and "latest" positions, before the probe
    found = [False]

    def check() -> bool:
        for batch in consumer.poll(timeout_ms=200).values():
            for m in batch:
                if m.key == key.encode():
                    history = {h["event_id"] for h in records_codec.decode(m.value)["history"]}
                    found[0] = found[0] or event_ids <= history
        return found[0]

    return check


def bench(kafka: Any, keys: int, repeat: int, root: Path, synthetic: bool) -> dict[str, Any]:
    """Build a table of ``keys`` keys, then kill and replace the worker ``repeat`` times.

    ``synthetic``: the table is written to the changelog directly (:func:`write_changelog`)
    instead of being built by the worker from published events (too slow for a million keys
    on two cores); the first worker then restores it before the kills start.
    """
    settings = load_settings(kafka_bootstrap=kafka.bootstrap, topic_partitions=4)
    registry = default_registry(settings)
    reset_bus_topics(settings, registry)
    codes = credit_codes(keys)
    events = [seal_event(c, 0) for c in codes]
    app_id = f"bench-recovery-{keys}-{uuid.uuid4().hex[:6]}"
    changelog = changelog_topic(app_id, "enterprise")
    if synthetic:
        published = write_changelog(settings, registry, changelog, events)
    else:
        published = publish(settings, registry, events)
    began = time.monotonic()
    worker = Worker(kafka.bootstrap, app_id, root / f"{keys}-0")
    try:
        if synthetic:
            wait(lambda: worker.logged("Recovery complete"), 7200, "first restore", worker)
        else:
            wait(lambda: end_sum(kafka.bootstrap, ENTERPRISE_OUT) >= keys, 7200,
                 f"{keys} records built", worker)
        built = time.monotonic() - began
        wait(lambda: end_sum(kafka.bootstrap, changelog) >= keys, 600, "changelog complete",
             worker)
        baseline = [read_through(kafka.bootstrap, changelog) for _ in range(repeat)]
        restored, processing, replay = [], [], []
        for n in range(1, repeat + 1):
            probe = seal_event(codes[-n], n)  # last keys: templated when synthetic
            check = probe_seen(kafka.bootstrap, codes[-n],
                               {events[-n]["envelope"]["event_id"],
                                probe["envelope"]["event_id"]})
            t0 = time.monotonic()
            worker.kill()
            worker = Worker(kafka.bootstrap, app_id, root / f"{keys}-{n}")  # empty data dir
            publish(settings, registry, [probe])
            start = wait(lambda w=worker: w.logged("Restoring state from changelog"), 900,
                         "restoring", worker)
            done = wait(lambda w=worker: w.logged("Recovery complete"), 3600, "recovery",
                        worker)
            seen = wait(check, 900, "probe processed", worker)
            restored.append(done - t0)
            processing.append(seen - t0)
            replay.append(done - start)
    finally:
        worker.kill()
    return {"keys": keys, "published_s": published, "built_s": built,
            "baseline_read_s": baseline, "restored_s": restored,
            "processing_s": processing, "replay_s": replay}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark for every ``--keys`` on one local broker; print one line per size."""
    parser = argparse.ArgumentParser(prog="exchange.faults.bench_recovery", description=__doc__)
    parser.add_argument("--keys", type=int, action="append", help="table sizes (repeatable)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--synthetic", action="store_true",
                        help="write the table to the changelog directly (see write_changelog)")
    args = parser.parse_args(argv)
    sizes = args.keys or [100_000]
    with tempfile.TemporaryDirectory(prefix="bench-recovery-") as tmp:
        kafka = load_localkafka().LocalKafka(Path(tmp) / "kafka", size=1, port=0,
                                        die_with_parent=True)
        kafka.start(timeout=240)
        try:
            for keys in sizes:
                r = bench(kafka, keys, args.repeat, Path(tmp), args.synthetic)
                med = {k: statistics.median(v) for k, v in r.items() if isinstance(v, list)}
                how = "changelog_written" if args.synthetic else "published"
                print(f"keys={keys} {how}={r['published_s']:.1f}s built={r['built_s']:.1f}s "
                      f"kill_to_restored_median={med['restored_s']:.1f}s "
                      f"kill_to_processing_median={med['processing_s']:.1f}s "
                      f"changelog_replay_median={med['replay_s']:.1f}s "
                      f"baseline_plain_read_median={med['baseline_read_s']:.1f}s "
                      f"runs={args.repeat}", flush=True)
                print(f"  raw: {r}", file=sys.stderr, flush=True)
        finally:
            kafka.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
