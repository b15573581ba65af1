"""``make bench-join``: the join worker against a plain aiokafka passthrough, in the same run.

Throughput: the same department messages (simulator traffic) are pre-published and drained
by (a) a plain aiokafka consume-and-produce passthrough, (b) a Faust agent that only copies
them, (c) ``exchange worker`` as its own process and (d) the worker split by join, one
``exchange worker --join KIND`` process per record kind. The rate is the messages over the
time from the subject's first output to its last (start-up and group join excluded for all).

Latency (:mod:`exchange.worker.bench_latency`): the same events, published at a fixed moderate
rate after a warm-up, through each subject; every event is paired with the first output that
carries it, unmatched ones are counted and named. p50 and p99 of each and their ratio, with
the worker's batch statistics from its metrics endpoint. Results go to
``var/bench/join.json``; the exit status is 1 if any measured event was unmatched.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from exchange.localbroker import local_broker
from exchange.schemas import SchemaRegistry, default_registry
from exchange.settings import REPO_ROOT, load_settings
from exchange.topics import (
    ENTERPRISE_OUT,
    PROPERTY_OUT,
    TopicSpec,
    ensure_bus_topics,
    ensure_topics,
)
from exchange.worker.bench_faust_passthrough import FaustPassthrough
from exchange.worker.bench_kit import (
    Access,
    BenchWorker,
    SplitWorker,
    Subject,
    batch_stats,
    committed_all,
    end_offsets,
    output_span,
    send_all,
    start_at_end,
    worker_sources,
)
from exchange.worker.bench_latency import LatencyRun, header_id, history_ids, measure
from exchange.worker.bench_passthrough import PASS_OUT, Passthrough
from exchange.worker.harness import WireMessage, wire_messages
from producers.simulator import simulate

OUTPUTS = [ENTERPRISE_OUT, PROPERTY_OUT]


def traffic(registry: SchemaRegistry, enterprises: int, properties: int, seed: int,
            limit: int | None = None) -> list[WireMessage]:
    """Valid simulated department messages, shuffled as departments would interleave them."""
    events = [e for e in simulate(enterprises, properties, seed=seed, shuffle=True)
              if e.invalid_reason is None]
    return wire_messages(events, registry)[:limit]


def warmup_traffic(registry: SchemaRegistry) -> list[WireMessage]:
    """What a subject drains before it is measured: a few hundred messages of keys of their
    own (another seed)."""
    return traffic(registry, 60, 40, seed=13)


def department_topics(registry: SchemaRegistry) -> list[str]:
    """The department topics the join consumes (the passthrough copies the same)."""
    return registry.topics("enterprise") + registry.topics("property")


def throughput(access: Access, subject: Subject, sources: list[str], counted: list[str],
               outputs: list[str], messages: list[WireMessage], warmup: list[WireMessage],
               timeout: float = 900.0) -> tuple[float, dict[str, Any]]:
    """Messages/s of ``subject`` draining ``messages``, published while it was paused.

    The subject's groups start where this run's messages begin, and it first drains
    ``warmup`` (other messages): its groups have joined, its tables are restored, its code
    has run. Then it is paused (child processes are stopped with SIGSTOP), ``messages`` are
    published, and it is resumed. The rate is the messages on ``counted`` over the time from
    the resume to its last output, once it has committed everything. Nothing of the start-up
    is measured, and nothing of the drain is left out. (The rate used to run from the first
    output to the last, which left out the time to the first output: small for a subject
    that commits every batch, most of the drain's first second for a worker that commits a
    window of many batches.) Also the batch statistics of the drain, and the CPU the subject
    used from its resume until it had committed everything, per counted message
    (``cpu_us_per_message``): what the drain cost, however busy the machine was otherwise.
    """
    groups = subject.groups(sources)
    for group, topics in groups.items():
        start_at_end(access.admin, group, topics)
    send_all(access, warmup)
    subject.start()
    try:
        drained(access, subject, groups, timeout)
        before = subject.metrics()
        subject.pause()
        paused = time.time()
        try:
            starts = end_offsets(access.admin, counted)
            send_all(access, messages)
        finally:
            resumed = time.time()
            cpu = subject.cpu_seconds()
            subject.resume()
        drained(access, subject, groups, timeout)
        cpu = subject.cpu_seconds() - cpu
        stats = {**batch_stats(before, subject.metrics()),
                 "paused_s": round(resumed - paused, 1)}  # the publishing of ``messages``
    finally:
        subject.stop()
    ends = end_offsets(access.admin, counted)
    _, last = output_span(access.reader, outputs, int(resumed * 1000))
    count = sum(ends[tp] - starts.get(tp, 0) for tp in ends)
    stats["cpu_s"] = round(cpu, 2)
    stats["cpu_us_per_message"] = round(cpu / count * 1e6, 1)
    return count / (last - resumed), stats


def drained(access: Access, subject: Subject, groups: dict[str, list[str]],
            timeout: float) -> None:
    """Wait until each of ``groups`` has committed the end of its topics."""
    deadline = time.monotonic() + timeout
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{subject.group} did not drain in {timeout:.0f} s")
        subject.check()
        time.sleep(0.5)
        # Re-read every end: what the subject sends itself (owner links) counts too.
        if all(committed_all(access.admin, group, end_offsets(access.admin, topics))
               for group, topics in groups.items()):
            return


def worker_throughput(access: Access, registry: SchemaRegistry, messages: list[WireMessage],
                      warmup: list[WireMessage], data_dir: Path) -> tuple[float, dict[str, Any]]:
    """Messages/s of the join worker draining ``messages``, and its batch statistics."""
    worker = BenchWorker(access, access.app_id("join"), data_dir,
                         {"EXCHANGE_WORKER_BATCH_SIZE": "1000"})
    return throughput(access, worker, worker_sources(registry), department_topics(registry),
                      OUTPUTS, messages, warmup)


def split_worker_throughput(access: Access, registry: SchemaRegistry,
                            messages: list[WireMessage], warmup: list[WireMessage],
                            data_dir: Path) -> tuple[float, dict[str, Any]]:
    """Messages/s of the worker split by join (one process per record kind) draining
    ``messages``, and its batch statistics."""
    worker = SplitWorker(access, registry, access.app_id("split"), data_dir,
                         {"EXCHANGE_WORKER_BATCH_SIZE": "1000"})
    return throughput(access, worker, worker_sources(registry), department_topics(registry),
                      OUTPUTS, messages, warmup)


def worker_latency(access: Access, registry: SchemaRegistry, messages: list[WireMessage],
                   rate: float, warmup: int, data_dir: Path) -> LatencyRun:
    """Publish-to-record latency through the join worker."""
    worker = BenchWorker(access, access.app_id("lat"), data_dir)
    return measure(access, worker, worker_sources(registry), OUTPUTS, history_ids, messages,
                   rate, warmup)


def compare(base: LatencyRun, join: LatencyRun) -> dict[str, Any]:
    """Worker over baseline at p50 and p99 (when both have samples)."""
    b, j = base.summary(), join.summary()
    if not (b["samples"] and j["samples"]):
        return {}
    return {"p50_ratio": round(j["p50_ms"] / b["p50_ms"], 2),
            "p99_ratio": round(j["p99_ms"] / b["p99_ms"], 2)}


def report_unmatched(runs: dict[str, LatencyRun]) -> int:
    """Print the unmatched events of each run; return how many there were in all."""
    total = 0
    for name, run in runs.items():
        if run.unmatched:
            total += len(run.unmatched)
            print(f"{name}: {len(run.unmatched)} measured events never came out, e.g. "
                  f"{run.unmatched[:5]}", file=sys.stderr)
    return total


def save(result: dict[str, Any], name: str) -> None:
    """Write ``var/bench/<name>`` and print it."""
    out = REPO_ROOT / "var" / "bench" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def add_load_arguments(parser: argparse.ArgumentParser,
                       bulk: int) -> argparse.ArgumentParser:
    """The traffic options every join benchmark takes (throughput bulk, latency pacing)."""
    parser.add_argument("--bulk", type=int, default=bulk,
                        help="throughput: enterprises simulated (properties: two thirds)")
    parser.add_argument("--rate", type=float, default=100.0, help="latency: events/s")
    parser.add_argument("--events", type=int, default=3000, help="latency: measured events")
    parser.add_argument("--warmup", type=int, default=300, help="latency: warm-up events")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run both measurements on the configured broker or a local one; print and save."""
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n")[0])
    args = add_load_arguments(parser, bulk=3000).parse_args(argv)
    registry = default_registry()
    with local_broker(log=print) as bootstrap, tempfile.TemporaryDirectory() as tmp:
        access = Access.plain(bootstrap)
        settings = load_settings(kafka_bootstrap=bootstrap)
        ensure_bus_topics(settings, registry)
        ensure_topics(settings.kafka_client_options(), [TopicSpec(PASS_OUT)],
                      settings.topic_partitions, settings.topic_replication)
        bulk = traffic(registry, args.bulk, args.bulk * 2 // 3, seed=11)
        warm = warmup_traffic(registry)
        sources = department_topics(registry)
        print(f"throughput on {len(bulk)} messages: passthrough ...", flush=True)
        base, base_stats = throughput(
            access, Passthrough(access.admin, sources, access.app_id("pass")),
            sources, sources, [PASS_OUT], bulk, warm)
        print("throughput: Faust passthrough ...", flush=True)
        faust_base, faust_stats = throughput(
            access, FaustPassthrough(bootstrap, sources, access.app_id("fpass"),
                                     Path(tmp) / "fpass", access.worker_env),
            sources, sources, [PASS_OUT], bulk, warm)
        print("throughput: worker ...", flush=True)
        join, join_batches = worker_throughput(access, registry, bulk, warm, Path(tmp) / "tp")
        print("throughput: worker split by join (a process per record kind) ...", flush=True)
        split, split_batches = split_worker_throughput(access, registry, bulk, warm,
                                                       Path(tmp) / "split")
        paced = traffic(registry, 400, 300, seed=12, limit=args.warmup + args.events)
        print(f"latency at {args.rate:.0f} events/s: passthrough ...", flush=True)
        base_lat = measure(access, Passthrough(access.admin, sources, access.app_id("plat")),
                           sources, [PASS_OUT], header_id, paced, args.rate, args.warmup)
        print(f"latency at {args.rate:.0f} events/s: worker ...", flush=True)
        join_lat = worker_latency(access, registry, paced, args.rate, args.warmup,
                                  Path(tmp) / "lw")
    save({
        "messages": len(bulk),
        "passthrough_events_per_s": round(base),
        "worker_events_per_s": round(join),
        "throughput_ratio": round(join / base, 3),
        # Faust's own ceiling: the same copy through a Faust agent wired like the worker's.
        "faust_passthrough_events_per_s": round(faust_base),
        "faust_passthrough_ratio": round(faust_base / base, 3),
        "worker_to_faust_passthrough_ratio": round(join / faust_base, 3),
        "worker_throughput_batches": join_batches,
        # The same worker deployed as two processes, one per join (``--join KIND``).
        "split_worker_events_per_s": round(split),
        "split_worker_ratio": round(split / base, 3),
        "split_worker_throughput_batches": split_batches,
        # CPU per message of each drain (the split worker: both processes), and the worker's
        # over the passthrough's: the cost of the join, apart from how busy the machine was.
        "cpu_us_per_message": {name: stats["cpu_us_per_message"] for name, stats in (
            ("passthrough", base_stats), ("faust_passthrough", faust_stats),
            ("worker", join_batches), ("split_worker", split_batches))},
        "worker_cpu_ratio": round(join_batches["cpu_us_per_message"]
                                  / base_stats["cpu_us_per_message"], 2),
        "latency": {"passthrough": base_lat.summary(), "worker": join_lat.summary(),
                    **compare(base_lat, join_lat)},
    }, "join.json")
    return 1 if report_unmatched({"passthrough": base_lat, "worker": join_lat}) else 0


if __name__ == "__main__":
    sys.exit(main())
