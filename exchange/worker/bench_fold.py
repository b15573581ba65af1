"""``python -m exchange.worker.bench_fold``: CPU cost of the join's fold alone, no Kafka.

The same simulated traffic as the join benchmark (:func:`exchange.worker.bench.traffic`),
split by record kind as the worker's agents receive it, is folded in batches through
:func:`~exchange.worker.processor.process_enterprise_batch` and
:func:`~exchange.worker.processor.process_property_batch` with a dict as the table (changed
and unchanged records written back, as the worker does). Reported: CPU microseconds per
department message (decode, validate, merge), the median of several rounds: the fold's own
ceiling, to quote next to the Kafka benchmark's events/s. Also per join message (the owner
links and snapshots that traffic causes, folded into the tables it left), which the worker
folds besides: there are about a third as many snapshots as department messages.

The worker's other pure-Python work on a batch's result is timed beside the fold, batch by
batch as the worker does it: ``*_encode_us``, :func:`records_codec.encode` per changed record
(the output topic's value, which is also its table value), and ``*_table_us``, the encoding of
each unchanged record per record written to the table (changed and unchanged: a changed one
costs nothing more). ``*_total_us`` adds all three per message. Clocking every batch adds a
little to the fold's figure at small batches (three clock reads a batch).

``--profile`` prints a cProfile top 25 of one round (both encodings included); ``--dump PATH``
writes every batch result, its records' encoded bytes and the final tables of a fold that also
carries the join messages (owner links, snapshots) and broken and redelivered events, to show
that a change of the fold or of the encoder changed no output.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import pickle
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from exchange.schemas import SchemaRegistry, default_registry
from exchange.topics import OWNER_LINKS, OWNER_SNAPSHOTS
from exchange.worker import records_codec
from exchange.worker.app import tune_gc
from exchange.worker.harness import WireMessage, wire_messages
from exchange.worker.processor import (
    BatchResult,
    Incoming,
    Processor,
    process_enterprise_batch,
    process_property_batch,
)
from producers.simulator import simulate

Table = dict[str, dict[str, Any]]
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


def batches(kind: str, messages: list[Incoming], size: int, registry: SchemaRegistry,
            table: Table) -> Iterator[BatchResult]:
    """Fold ``messages`` in batches of ``size`` into ``table``, yielding each batch's result
    once its records are in the table. A caller that does not keep the results drops them as
    the worker does: kept, they would hold every record version alive and make the garbage
    collector's work unlike the worker's."""
    process = PROCESSORS[kind]
    for start in range(0, len(messages), size):
        result = process(messages[start:start + size], table.get, registry)
        table.update(result.records)
        table.update(result.unchanged)
        yield result


def encode(result: BatchResult) -> list[bytes]:
    """The output topic's values of a batch's changed records."""
    return [records_codec.encode(record) for record in result.records.values()]


def table_values(result: BatchResult) -> list[bytes]:
    """The table's values of a batch's records that :func:`encode` did not write: those of
    its unchanged records (a changed record's table value is its output's value)."""
    return [records_codec.encode(record) for record in result.unchanged.values()]


class Stream(NamedTuple):
    """Messages one side folds, and the table they meet.

    Tables wait pickled: alive, their records would add to every full collection of the
    garbage collector while the other streams are measured.
    """

    kind: str
    messages: list[Incoming]
    table: bytes


class Cost(NamedTuple):
    """CPU seconds of one fold of a stream, by step, and what they were spent on."""

    fold: float
    encode: float
    table: float
    messages: int
    changed: int  # records encoded for their output (and table)
    written: int  # records written to the table (changed and unchanged)


def cpu_cost(stream: Stream, size: int, registry: SchemaRegistry, table: Table) -> Cost:
    """CPU time of one fold of the stream into ``table`` (a copy of the stream's), and of
    encoding each batch's records for its outputs and table after it."""
    clock = time.process_time
    folding = encoding = tabling = 0.0
    changed = written = 0
    started = clock()
    for result in batches(stream.kind, stream.messages, size, registry, table):
        folded = clock()
        changed += len(encode(result))
        encoded = clock()
        table_values(result)
        written += len(result.records) + len(result.unchanged)
        tabled = clock()
        folding += folded - started
        encoding += encoded - folded
        tabling += tabled - encoded
        started = tabled
    return Cost(folding, encoding, tabling, len(stream.messages), changed, written)


def streams(traffic: dict[str, list[Incoming]], registry: SchemaRegistry) -> dict[str, Stream]:
    """The department messages of each side (into empty tables), and the join messages they
    cause (owner links, owner snapshots) into the tables the department messages left."""
    tables: dict[str, Table] = {kind: {} for kind in traffic}
    sent: dict[str, list[tuple[str, str, bytes]]] = {}
    for kind, topic in (("property", OWNER_LINKS), ("enterprise", OWNER_SNAPSHOTS)):
        messages = traffic[kind]
        if kind == "enterprise":  # with the links: snapshots go to the units an owner has
            messages = _join(messages, OWNER_LINKS, sent[OWNER_LINKS])
        sent[topic] = [o for r in batches(kind, messages, 500, registry, tables[kind])
                       for o in r.outgoing]
    for kind, messages in traffic.items():  # the tables as department messages alone leave them
        tables[kind] = {}
        for _ in batches(kind, messages, 500, registry, tables[kind]):
            pass
    empty = pickle.dumps({})
    return {
        **{kind: Stream(kind, messages, empty) for kind, messages in traffic.items()},
        "owner_links": Stream("enterprise", _join([], OWNER_LINKS, sent[OWNER_LINKS]),
                              pickle.dumps(tables["enterprise"])),
        "owner_snapshots": Stream("property", _join([], OWNER_SNAPSHOTS, sent[OWNER_SNAPSHOTS]),
                                  pickle.dumps(tables["property"])),
    }


def measure(streams: dict[str, Stream], sizes: list[int], rounds: int,
            registry: SchemaRegistry) -> dict[str, Any]:
    """Median µs of each stream and batch size, rounds interleaved: fold per message
    (``<stream>_us``), encode per changed record (``_encode_us``), table values per record
    written (``_table_us``), all three per message (``_total_us``).

    ``all``: the department messages (enterprise and property); ``join``: the join
    messages (owner links and snapshots); each the mean of its streams' medians, weighted by
    what they count.
    """
    samples: dict[tuple[str, int], list[Cost]] = {}
    for _ in range(rounds):
        for size in sizes:
            for name, stream in streams.items():
                samples.setdefault((name, size), []).append(
                    cpu_cost(stream, size, registry, pickle.loads(stream.table)))
    out: dict[str, Any] = {"rounds": rounds,
                           "messages": {name: len(s.messages) for name, s in streams.items()}}
    groups = {"all": [n for n in streams if n in PROCESSORS],
              "join": [n for n in streams if n not in PROCESSORS]}
    measures: dict[str, tuple[Callable[[Cost], float], Callable[[Cost], int]]] = {
        "": (lambda c: c.fold, lambda c: c.messages),
        "_encode": (lambda c: c.encode, lambda c: c.changed),
        "_table": (lambda c: c.table, lambda c: c.written),
        "_total": (lambda c: c.fold + c.encode + c.table, lambda c: c.messages),
    }
    for size in sizes:
        row: dict[str, float] = {}
        for suffix, (seconds, count) in measures.items():
            per = {name: (statistics.median(seconds(c) / max(count(c), 1) * 1e6
                                            for c in samples[(name, size)]),
                          count(samples[(name, size)][0])) for name in streams}
            row.update({f"{name}{suffix}_us": round(us, 1) for name, (us, _) in per.items()})
            for group, names in groups.items():
                total = sum(per[n][1] for n in names)
                if total:
                    row[f"{group}{suffix}_us"] = round(
                        sum(per[n][0] * per[n][1] for n in names) / total, 1)
        out[f"batch_{size}"] = row
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
    """Every batch result (its repr's SHA-256), its changed records' encoded bytes and its
    unchanged records' table values (their SHA-256) and the final tables of a fold both ways
    through the join: records, unchanged, dead letters, outgoing messages, counts, in their
    order."""
    tables: dict[str, Table] = {"enterprise": {}, "property": {}}
    shown: list[str] = []
    written: list[str] = []

    def run(kind: str, messages: list[Incoming]) -> list[tuple[str, str, bytes]]:
        results = list(batches(kind, messages, size, registry, tables[kind]))
        shown.extend(hashlib.sha256(repr(r).encode()).hexdigest() for r in results)
        written.extend(hashlib.sha256(b"\0".join([*encode(r), *table_values(r)])).hexdigest()
                       for r in results)
        return [o for r in results for o in r.outgoing]

    links = run("property", traffic["property"])
    snapshots = run("enterprise", _join(traffic["enterprise"], OWNER_LINKS, links))
    run("property", _join([], OWNER_SNAPSHOTS, snapshots))
    return {"batches": shown, "written": written,
            "tables": {k: repr(v) for k, v in tables.items()}}


def profile(streams: dict[str, Stream], size: int, registry: SchemaRegistry,
            top: int = 25) -> None:
    """Print the ``top`` functions of one fold (both encodings included) of every stream
    by own time (tables unpickled outside the profile)."""
    profiler = cProfile.Profile()
    for stream in streams.values():
        table = pickle.loads(stream.table)
        profiler.runcall(cpu_cost, stream, size, registry, table)
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
    parser.add_argument("--gc", choices=["worker", "default"], default="worker",
                        help="the collector as the worker sets it (tune_gc), or Python's "
                        "default")
    args = parser.parse_args(argv)
    sizes = args.batch or [3, 500]
    registry = default_registry()
    if args.dump:
        damaged = simulated(registry, args.enterprises, args.properties, args.seed,
                            invalid_rate=0.03, duplicate_rate=0.05)
        shown = {size: outputs(damaged, size, registry) for size in sizes}
        args.dump.write_text(json.dumps(shown, indent=0) + "\n")
        print(f"outputs written to {args.dump}")
        return 0
    traffic = streams(simulated(registry, args.enterprises, args.properties, args.seed),
                      registry)
    if args.gc == "worker":
        tune_gc()
    if args.profile:
        measure(traffic, sizes, 1, registry)  # warm, as measured: plans, identifier memory
        profile(traffic, sizes[-1], registry)
        return 0
    measure(traffic, sizes, 1, registry)  # warm-up: plans, caches
    print(json.dumps(measure(traffic, sizes, args.rounds, registry), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
