"""``make bench-join-secured``: the join worker on the secured broker against the plain one.

Two local brokers in one run: ``deploy/kafka/localkafka.py`` plain and ``deploy/kafka/secure.py``
(SASL/SCRAM-SHA-512, ACLs). On the secured one each department publishes as itself, the
worker runs as its principal (security settings in its environment, as in production), the
desk reads the unified records and the admin watches offsets. The same messages go through
both, in rounds that alternate which broker goes first: worker throughput
(:func:`exchange.worker.bench.worker_throughput`) and publish-to-record latency after a
warm-up (:mod:`exchange.worker.bench_latency`). Medians and pooled p50/p99 per broker and
their ratios go to ``var/bench/join_secured.json``; exit status 1 if any event was unmatched.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from exchange.localbroker import plain_and_secured
from exchange.schemas import default_registry
from exchange.settings import load_settings
from exchange.topics import ensure_bus_topics
from exchange.worker.bench import (
    add_load_arguments,
    report_unmatched,
    save,
    traffic,
    warmup_traffic,
    worker_latency,
    worker_throughput,
)
from exchange.worker.bench_kit import Access, department_of
from exchange.worker.bench_latency import LatencyRun, percentile

MODES = ("plain", "secured")


def pooled(runs: list[LatencyRun]) -> dict[str, Any]:
    """p50/p99 over every sample of ``runs``, with the per-round p50s and the unmatched."""
    samples = [x for run in runs for x in run.latencies]
    out: dict[str, Any] = {"samples": len(samples),
                           "unmatched": sum(len(run.unmatched) for run in runs),
                           "round_p50_ms": [run.summary().get("p50_ms") for run in runs],
                           "batches": [run.batches for run in runs]}
    if samples:
        out["p50_ms"] = round(percentile(samples, 0.5) * 1000, 1)
        out["p99_ms"] = round(percentile(samples, 0.99) * 1000, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    """Start both brokers, measure alternating rounds, stop; print and save."""
    parser = argparse.ArgumentParser(prog="bench_secured", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds per broker")
    args = add_load_arguments(parser, bulk=1000).parse_args(argv)
    registry = default_registry()
    bulk = traffic(registry, args.bulk, args.bulk * 2 // 3, seed=21)
    paced = traffic(registry, 400, 300, seed=22, limit=args.warmup + args.events)
    warm = warmup_traffic(registry)
    departments = {department_of(m) for m in bulk + paced + warm}
    rates: dict[str, list[float]] = {m: [] for m in MODES}
    batches: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    latencies: dict[str, list[LatencyRun]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory(prefix="bench-join-secured-") as tmp:
        t0 = time.monotonic()
        with plain_and_secured(Path(tmp)) as (plain, locked):
            print(f"brokers up in {time.monotonic() - t0:.0f}s: plain {plain.bootstrap}, "
                  f"secured {locked.bootstrap}", flush=True)
            ensure_bus_topics(load_settings(kafka_bootstrap=plain.bootstrap), registry)
            access = {"plain": Access.plain(plain.bootstrap),
                      "secured": Access.secured(locked, departments)}
            for i in range(args.rounds):
                for mode in MODES if i % 2 == 0 else MODES[::-1]:
                    work = Path(tmp) / f"{mode}-{i}"
                    rate, stats = worker_throughput(access[mode], registry, bulk, warm,
                                                    work / "tp")
                    rates[mode].append(rate)
                    batches[mode].append(stats)
                    run = worker_latency(access[mode], registry, paced, args.rate, args.warmup,
                                         work / "lat")
                    latencies[mode].append(run)
                    print(f"round {i + 1} {mode}: {rate:.0f} msg/s, latency "
                          f"{run.summary()}", flush=True)
    result: dict[str, Any] = {"messages": len(bulk), "rounds": args.rounds,
                              "latency_rate_events_per_s": args.rate}
    for mode in MODES:
        result[mode] = {"events_per_s_median": round(statistics.median(rates[mode])),
                        "events_per_s_all": [round(r) for r in rates[mode]],
                        "throughput_batches": batches[mode],
                        "latency": pooled(latencies[mode])}
    p, s = result["plain"], result["secured"]
    result["secured_over_plain"] = {
        "throughput": round(s["events_per_s_median"] / p["events_per_s_median"], 3),
        **{f"latency_{q}": round(s["latency"][f"{q}_ms"] / p["latency"][f"{q}_ms"], 2)
           for q in ("p50", "p99") if f"{q}_ms" in s["latency"] and f"{q}_ms" in p["latency"]},
    }
    save(result, "join_secured.json")
    runs = {f"{mode} round {i + 1}": run for mode in MODES
            for i, run in enumerate(latencies[mode])}
    return 1 if report_unmatched(runs) else 0


if __name__ == "__main__":
    sys.exit(main())
