"""Benchmark: queue page response time with many open cases, against ``/healthz`` in the same
run (the baseline: the same server, HTTP stack and client, no database work).

    .venv/bin/python -m consumers.desk.web.bench --cases 10000 --requests 200

Cases are submitted through :class:`DeskService` (the real path, SQLite in a temporary
folder unless ``--database-url``); the app runs under uvicorn on a free 127.0.0.1 port; httpx
measures sequential requests. Prints p50/p95/p99 per URL. A benchmark, not a timed test.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from consumers.desk.service import Actor, DeskService
from consumers.desk.store.db import make_engine, make_session_factory
from consumers.desk.store.migrate import upgrade
from consumers.desk.web.server import start_in_thread
from exchange.identifiers import make_credit_code, make_resident_id
from exchange.settings import load_settings

HEADERS = {"X-Desk-User": "bench", "X-Desk-Role": "clerk"}
BUNDLES = (["seal"], ["seal", "tax_and_invoices"], ["tax_and_invoices", "social_security"])


def fill(service: DeskService, cases: int, seed: int = 7) -> float:
    """Submit ``cases`` start-up forms; returns seconds taken."""
    from datetime import date

    rng = random.Random(seed)
    clerk = Actor("bench", "clerk")
    started = time.perf_counter()
    for i in range(cases):
        service.submit({
            "case_type": "startup", "credit_code": make_credit_code(rng, "510104"),
            "legal_representative_name": f"代表{i}",
            "legal_representative_id": make_resident_id(rng, "510104", date(1990, 1, 1)),
            "address": f"成都市武侯区{i}号", "bundle": BUNDLES[i % len(BUNDLES)],
        }, clerk, ("default", "sichuan", "qingbaijiang")[i % 3])
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p95 and p99 in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000}


def measure(client: httpx.Client, url: str, requests: int) -> dict[str, float]:
    """Sequential GETs of ``url`` after 5 warm-ups; fails on any non-200."""
    for _ in range(5):
        client.get(url).raise_for_status()
    samples = []
    for _ in range(requests):
        t0 = time.perf_counter()
        client.get(url).raise_for_status()
        samples.append(time.perf_counter() - t0)
    return percentiles(samples)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print one line per URL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="desk-bench-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'desk.sqlite3'}"
        upgrade(url)
        service = DeskService(make_session_factory(make_engine(url)))
        took = fill(service, args.cases)
        print(f"submitted {args.cases} cases through DeskService in {took:.1f} s "
              f"({args.cases / took:.0f}/s); open: {service.count_open()}")
        server = start_in_thread(service, load_settings())
        try:
            with httpx.Client(base_url=server.base_url, headers=HEADERS, timeout=30) as client:
                last = max(1, -(-service.count_open() // 50))
                for path in ("/healthz", "/queue", f"/queue?page={last}", "/api/v1/queue"):
                    p = measure(client, path, args.requests)
                    print(f"{path:<24} p50 {p['p50']:7.2f} ms  p95 {p['p95']:7.2f} ms  "
                          f"p99 {p['p99']:7.2f} ms  ({args.requests} requests)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
