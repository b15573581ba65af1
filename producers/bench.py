"""``make bench-publish``: the department publisher against raw kafka-python, same run.

Baseline: kafka-python ``send`` of pre-encoded bytes of the same events (same topics, keys,
headers, same producer settings: acks=all, idempotent). Candidate: ``DepartmentPublisher``,
which validates, encodes to Avro and sends: ``publish_many`` (the ``ratio``), and also
``publish`` called once per event (``publish_each_ratio``). Rounds alternate so noise hits all
alike; the medians and their ratios are printed and written to ``var/bench/publish.json``.

Each round is measured twice: events per second of wall-clock time, and events per second of
this process's CPU time (every thread, kafka-python's sender included: the ``cpu_`` figures).
On a shared machine the second moves far less with the neighbours' load. kafka-python
checksums every batch with CRC-32C, in C when the ``crc32c`` package is installed (a
dependency of the project); ``--python-crc32c`` measures its pure-Python fallback instead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from rich.progress import Progress

from exchange import codec
from exchange.localbroker import local_broker
from exchange.schemas import default_registry
from exchange.settings import REPO_ROOT, load_settings
from exchange.topics import ensure_bus_topics
from producers.publisher import DepartmentPublisher, headers_for, make_producer
from producers.simulator import simulate

EVENTS = 20_000
ROUNDS = 5


def crc32c_implementation(python: bool = False) -> str:
    """Which CRC-32C kafka-python uses; with ``python``, switch it to its pure-Python one."""
    from kafka.record import util
    from kafka.record._crc32c import crc

    if python:
        # calc_crc32c binds its implementation as a default argument when kafka-python loads.
        util.calc_crc32c.__defaults__ = (crc,)
    defaults = util.calc_crc32c.__defaults__ or (None,)
    return "python" if defaults[0] is crc else "c"


def _timed(count: int, send: Callable[[], None]) -> tuple[float, float]:
    """Events per second of wall-clock time and of this process's CPU time."""
    wall, cpu = time.perf_counter(), time.process_time()
    send()
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def _raw_round(producer: Any,
               prepared: list[tuple[str, bytes, bytes, list[Any]]]) -> tuple[float, float]:
    def send() -> None:
        futures = [producer.send(t, value=v, key=k, headers=h) for t, k, v, h in prepared]
        producer.flush()
        failed = sum(1 for f in futures if not f.succeeded())
        if failed:
            raise RuntimeError(f"raw baseline: {failed} sends failed")

    return _timed(len(prepared), send)


def _publisher_round(publisher: DepartmentPublisher, events: list[tuple[str, Any]],
                     one_by_one: bool = False) -> tuple[float, float]:
    def send() -> None:
        if one_by_one:
            for event_type, record in events:
                publisher.publish(event_type, record)
        else:
            publisher.publish_many(events)
        report = publisher.flush()
        if report.confirmed != len(events):
            raise RuntimeError(f"publisher: {report.confirmed} of {len(events)} confirmed")

    return _timed(len(events), send)


def run(count: int = EVENTS, rounds: int = ROUNDS, python_crc32c: bool = False) -> dict[str, Any]:
    """Measure ``rounds`` rounds of ``count`` events each way; return the figures."""
    crc = crc32c_implementation(python=python_crc32c)
    with local_broker(log=print) as bootstrap:
        settings = load_settings(kafka_bootstrap=bootstrap)
        registry = default_registry(settings)
        ensure_bus_topics(settings, registry)
        lives = max(1, count // 18_000)  # 2,000 enterprises and 1,000 units: 18,508 valid events
        events = [
            (e.event_type, e.record)
            for e in simulate(2_000 * lives, 1_000 * lives, seed=7)
            if e.invalid_reason is None
        ][:count]
        prepared = []
        for event_type, record in events:
            info = registry.event(event_type)
            env = record["envelope"]
            prepared.append((info.topic, env["key"].encode(),
                             codec.encode(event_type, record, registry=registry),
                             headers_for(info, env)))
        raw_producer = make_producer(settings)
        publisher = DepartmentPublisher(settings, registry=registry)
        _raw_round(raw_producer, prepared[:2000])  # warm-up: connections, metadata
        _publisher_round(publisher, events[:2000])
        raw: list[tuple[float, float]] = []
        pub: list[tuple[float, float]] = []
        each: list[tuple[float, float]] = []
        with Progress() as progress:
            task = progress.add_task("rounds", total=3 * rounds)
            for _ in range(rounds):
                raw.append(_raw_round(raw_producer, prepared))
                progress.advance(task)
                pub.append(_publisher_round(publisher, events))
                progress.advance(task)
                each.append(_publisher_round(publisher, events, one_by_one=True))
                progress.advance(task)
        raw_producer.close()
        publisher.close()

    def median(runs: list[tuple[float, float]], cpu: bool = False) -> float:
        return statistics.median(r[cpu] for r in runs)

    return {
        "events_per_round": len(events),
        "rounds": rounds,
        "crc32c": crc,
        "raw_events_per_s_median": round(median(raw)),
        "publisher_events_per_s_median": round(median(pub)),
        "ratio": round(median(pub) / median(raw), 3),
        "publish_each_events_per_s_median": round(median(each)),
        "publish_each_ratio": round(median(each) / median(raw), 3),
        "raw_events_per_cpu_s_median": round(median(raw, cpu=True)),
        "publisher_events_per_cpu_s_median": round(median(pub, cpu=True)),
        "cpu_ratio": round(median(pub, cpu=True) / median(raw, cpu=True), 3),
        "publish_each_events_per_cpu_s_median": round(median(each, cpu=True)),
        "publish_each_cpu_ratio": round(median(each, cpu=True) / median(raw, cpu=True), 3),
        "raw_all": [round(x) for x, _ in raw],
        "publisher_all": [round(x) for x, _ in pub],
        "publish_each_all": [round(x) for x, _ in each],
        "raw_cpu_all": [round(c) for _, c in raw],
        "publisher_cpu_all": [round(c) for _, c in pub],
        "publish_each_cpu_all": [round(c) for _, c in each],
        "mean_encoded_bytes": round(statistics.mean(len(p[2]) for p in prepared)),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark on the configured broker or a local one; write the figures."""
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=EVENTS, help="events per round")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="measured rounds per way")
    parser.add_argument("--python-crc32c", action="store_true",
                        help="make kafka-python checksum in pure Python, as without the "
                             "crc32c package")
    args = parser.parse_args(argv)
    result = run(args.events, args.rounds, args.python_crc32c)
    out = REPO_ROOT / "var" / "bench" / "publish.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
