"""``python -m producers.bench_secure``: publisher throughput, secured broker against unsecured.

Two local brokers in one run (``deploy/kafka/localkafka.py`` plain, ``deploy/kafka/secure.py``
with SASL/SCRAM-SHA-512 and ACLs), the same simulated events, the same producer settings
(``PRODUCER_OPTIONS``: acks=all, idempotent). Each department publishes its own events through
its own ``DepartmentPublisher``; on the secured broker it authenticates as that department.
Rounds alternate between the brokers so noise hits both alike; medians (events/s) and their
ratio are printed and written to ``var/bench/publish_secure.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from exchange.localbroker import plain_and_secured
from exchange.schemas import default_registry
from exchange.settings import REPO_ROOT, Settings, load_settings
from exchange.topics import ensure_bus_topics
from producers.publisher import DepartmentPublisher
from producers.simulator import simulate

Events = dict[str, list[tuple[str, Any]]]


def _events(count: int) -> Events:
    """``count`` valid simulated events, grouped by the department that publishes them."""
    registry = default_registry(load_settings())
    by_department: Events = defaultdict(list)
    valid = (e for e in simulate(count // 8 + 10, count // 16 + 5, seed=7)
             if e.invalid_reason is None)
    for _, event in zip(range(count), valid, strict=False):
        department = registry.event(event.event_type).department
        by_department[department].append((event.event_type, event.record))
    return dict(by_department)


def _round(publishers: dict[str, DepartmentPublisher], events: Events) -> float:
    """Events per second of one round: every department publishes, then all flush."""
    total = sum(len(v) for v in events.values())
    start = time.perf_counter()
    for department, batch in events.items():
        publisher = publishers[department]
        for event_type, record in batch:
            publisher.publish(event_type, record)
    confirmed = sum(p.flush().confirmed for p in publishers.values())
    elapsed = time.perf_counter() - start
    if confirmed != total:
        raise RuntimeError(f"{confirmed} of {total} events confirmed")
    return total / elapsed


def _publishers(settings_of: dict[str, Settings]) -> dict[str, DepartmentPublisher]:
    return {d: DepartmentPublisher(s, d, ensure_topics=False) for d, s in settings_of.items()}


def run(count: int, rounds: int, log: Any = print) -> dict[str, Any]:
    """Start both brokers, measure ``rounds`` alternating rounds of ``count`` events, stop."""
    events = _events(count)
    with (
        tempfile.TemporaryDirectory(prefix="bench-secure-") as tmp,
        plain_and_secured(Path(tmp), log=log) as (plain, locked),
    ):
        plain_settings = load_settings(kafka_bootstrap=plain.bootstrap)
        ensure_bus_topics(plain_settings, default_registry(plain_settings))
        pubs = {
            "plain": _publishers({d: plain_settings for d in events}),
            "secure": _publishers({d: locked.client_settings(d) for d in events}),
        }
        for mode in pubs:  # warm-up: connections, metadata, producer ids
            _round(pubs[mode], events)
        rates: dict[str, list[float]] = {"plain": [], "secure": []}
        for i in range(rounds):
            for mode in (("plain", "secure") if i % 2 == 0 else ("secure", "plain")):
                rates[mode].append(_round(pubs[mode], events))
            log(f"round {i + 1}/{rounds}: plain {rates['plain'][-1]:.0f}/s, "
                f"secure {rates['secure'][-1]:.0f}/s")
        for group in pubs.values():
            for publisher in group.values():
                publisher.close()
    plain_median = statistics.median(rates["plain"])
    secure_median = statistics.median(rates["secure"])
    return {
        "events_per_round": sum(len(v) for v in events.values()),
        "rounds": rounds,
        "plain_events_per_s_median": round(plain_median),
        "secure_events_per_s_median": round(secure_median),
        "secure_over_plain": round(secure_median / plain_median, 3),
        "plain_all": [round(x) for x in rates["plain"]],
        "secure_all": [round(x) for x in rates["secure"]],
    }


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write ``var/bench/publish_secure.json``."""
    parser = argparse.ArgumentParser(prog="bench_secure", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per round")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per broker")
    args = parser.parse_args(argv)
    result = run(args.events, args.rounds)
    out = REPO_ROOT / "var" / "bench" / "publish_secure.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
