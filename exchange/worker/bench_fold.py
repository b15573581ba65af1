"""``python -m exchange.worker.bench_fold``: CPU cost of the join's fold alone, no Kafka.

The same simulated traffic as the join benchmark (:func:`exchange.worker.bench.traffic`),
split by record kind as the worker's agents receive it, is folded in batches through
:func:`~exchange.worker.processor.process_enterprise_batch` and
:func:`~exchange.worker.processor.process_property_batch` with a dict as the table (changed
and unchanged records written back, as the worker does). Reported: CPU microseconds per
department message (decode, validate, merge), the median of several rounds: the fold's own
ceiling, to quote next to the Kafka benchmark's events/s.

``--profile`` prints a cProfile top 25 of one round; ``--dump PATH`` writes every batch result
and the final tables of a fold that also carries the join messages (owner links, snapshots)
and broken and redelivered events, to show that a change of the fold changed no output.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from exchange.schemas import SchemaRegistry, default_registry
from exchange.topics import OWNER_LINKS, OWNER_SNAPSHOTS
from exchange.worker.harness import WireMessage, wire_messages
from exchange.worker.processor import (
    BatchResult,
    Incoming,
    Lookup,
    process_enterprise_batch,
    process_property_batch,
)
from producers.simulator import simulate

Table = dict[str, dict[str, Any]]
Processor = Callable[[list[Incoming], Lookup, SchemaRegistry], BatchResult]
PROCESSORS: dict[str, Processor] = {"enterprise": process_enterprise_batch,
                                    "property": process_property_batch}


def by_kind(registry: SchemaRegistry, messages: Iterable[WireMessage]) -> dict[str, list[Incoming]]:
    """Department messages as each side's agent consumes them, in order."""
    topics = {topic: kind for kind in PROCESSORS for topic in registry.topics(kind)}
    out: dict[str, list[Incoming]] = {kind: [] for kind in PROCESSORS}
    for offset, m in enumerate(messages):
        out[topics[m.topic]].append(Incoming(m.topic, 0, offset, m.key, m.value, dict(m.headers)))
    return out


def simulated(registry: SchemaRegistry, enterprises: int, properties: int, seed: int,
              invalid_rate: float = 0.0, duplicate_rate: float = 0.0
              ) -> dict[str, list[Incoming]]:
    """The join benchmark's traffic; with damage rates, broken and redelivered events too."""
    events = simulate(enterprises, properties, seed=seed, shuffle=True,
                      invalid_rate=invalid_rate, duplicate_rate=duplicate_rate)
    if not invalid_rate:  # as the join benchmark: only the valid events
        events = (e for e in events if e.invalid_reason is None)
    return by_kind(registry, wire_messages(events, registry))


def fold(kind: str, messages: list[Incoming], size: int, registry: SchemaRegistry,
         table: Table, keep: list[BatchResult] | None = None) -> None:
    """Fold ``messages`` in batches of ``size`` into ``table``, appending results to ``keep``.

    Results are dropped otherwise, as the worker drops them: kept, they would hold every
    record version alive and make the garbage collector's work unlike the worker's.
    """
    process = PROCESSORS[kind]
    for start in range(0, len(messages), size):
        result = process(messages[start:start + size], table.get, registry)
        table.update(result.records)
        table.update(result.unchanged)
        if keep is not None:
            keep.append(result)


def cpu_us_per_message(kind: str, messages: list[Incoming], size: int,
                       registry: SchemaRegistry) -> float:
    """CPU time of one fold into an empty table, per message."""
    started = time.process_time()
    fold(kind, messages, size, registry, {})
    return (time.process_time() - started) / len(messages) * 1e6


def measure(traffic: dict[str, list[Incoming]], sizes: list[int], rounds: int,
            registry: SchemaRegistry) -> dict[str, Any]:
    """Median µs per message of each kind and batch size, rounds interleaved."""
    samples: dict[tuple[str, int], list[float]] = {}
    for _ in range(rounds):
        for size in sizes:
            for kind, messages in traffic.items():
                samples.setdefault((kind, size), []).append(
                    cpu_us_per_message(kind, messages, size, registry))
    out: dict[str, Any] = {"rounds": rounds,
                           "messages": {kind: len(m) for kind, m in traffic.items()}}
    total = sum(len(m) for m in traffic.values())
    for size in sizes:
        per_kind = {kind: statistics.median(samples[(kind, size)]) for kind in traffic}
        out[f"batch_{size}"] = {
            **{f"{kind}_us": round(us, 1) for kind, us in per_kind.items()},
            "all_us": round(sum(per_kind[k] * len(traffic[k]) for k in traffic) / total, 1),
        }
    return out


def _join(messages: list[Incoming], topic: str, sent: list[tuple[str, str, bytes]]
          ) -> list[Incoming]:
    """``messages`` with the other side's join messages interleaved (one after each)."""
    extra = [Incoming(topic, 0, i, key.encode(), value) for i, (t, key, value) in enumerate(sent)
             if t == topic]
    mixed: list[Incoming] = []
    for i in range(max(len(messages), len(extra))):
        mixed.extend(m[i] for m in (messages, extra) if i < len(m))
    return mixed


def outputs(traffic: dict[str, list[Incoming]], size: int,
            registry: SchemaRegistry) -> dict[str, Any]:
    """Every batch result (its repr's SHA-256) and final table of a fold both ways through
    the join: records, unchanged, dead letters, outgoing messages, counts, in their order."""
    tables: dict[str, Table] = {"enterprise": {}, "property": {}}
    shown: list[str] = []

    def run(kind: str, messages: list[Incoming]) -> list[tuple[str, str, bytes]]:
        results: list[BatchResult] = []
        fold(kind, messages, size, registry, tables[kind], results)
        shown.extend(hashlib.sha256(repr(r).encode()).hexdigest() for r in results)
        return [o for r in results for o in r.outgoing]

    links = run("property", traffic["property"])
    snapshots = run("enterprise", _join(traffic["enterprise"], OWNER_LINKS, links))
    run("property", _join([], OWNER_SNAPSHOTS, snapshots))
    return {"batches": shown, "tables": {k: repr(v) for k, v in tables.items()}}


def profile(run: Callable[[], Any], top: int = 25) -> None:
    """Print the ``top`` functions of ``run`` by own time."""
    profiler = cProfile.Profile()
    profiler.runcall(run)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    """Measure (and optionally profile or dump) the fold; print the result as JSON."""
    parser = argparse.ArgumentParser(prog="bench_fold", description=__doc__.split("\n")[0])
    parser.add_argument("--enterprises", type=int, default=3000)
    parser.add_argument("--properties", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--batch", type=int, action="append", help="batch size (repeatable; "
                        "default 3 and 500)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile top 25 of one round")
    parser.add_argument("--dump", type=Path, help="write all outputs, per batch size")
    args = parser.parse_args(argv)
    sizes = args.batch or [3, 500]
    registry = default_registry()
    if args.dump:
        damaged = simulated(registry, args.enterprises, args.properties, args.seed,
                            invalid_rate=0.03, duplicate_rate=0.05)
        dump = {size: outputs(damaged, size, registry) for size in sizes}
        args.dump.write_text(json.dumps(dump, indent=0) + "\n")
        print(f"outputs written to {args.dump}")
        return 0
    traffic = simulated(registry, args.enterprises, args.properties, args.seed)
    if args.profile:
        measure(traffic, sizes, 1, registry)  # warm, as measured: plans, identifier memory
        profile(lambda: measure(traffic, sizes[-1:], 1, registry))
        return 0
    measure(traffic, sizes, 1, registry)  # warm-up: plans, caches
    print(json.dumps(measure(traffic, sizes, args.rounds, registry), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
