"""Benchmark: cases advanced per second by the desk's transaction path, SQLite and PostgreSQL.

    python -m consumers.desk.bench [--cases 200] [--runs 3] [--backends sqlite,postgresql]

Each run submits ``cases`` start-up cases (not timed), then times the consumer's path
(:meth:`DeskService.apply_record`: store the record, restore the case, advance it, append
its entries, store the offset, one transaction per record) over three records per case.
The baseline, in the same database and the same run, inserts the very rows that path wrote
(timeline entries, the record, the offset), one bare transaction per record, with Core
``INSERT``: what the database costs without the desk. Reports medians of the runs and the
ratio desk/baseline. PostgreSQL comes from ``EXCHANGE_BENCH_PG_URL`` or deploy/postgres/pg.sh
(database ``exchange_bench``, wiped).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, text

from consumers.desk.service import Actor, DeskService
from consumers.desk.store.db import make_engine, make_session_factory
from consumers.desk.store.migrate import upgrade
from consumers.desk.store.models import Base, TimelineRow
from exchange.identifiers import make_credit_code, make_resident_id
from exchange.settings import REPO_ROOT

START = datetime(2025, 9, 22, 1, 30, tzinfo=UTC)  # Monday 09:30 in China
TIMELINE = Base.metadata.tables["desk_timeline"]
RECORDS = Base.metadata.tables["desk_records"]
OFFSETS = Base.metadata.tables["desk_offsets"]
STEPS = (
    ("market.established",),
    ("seal.seal_engraved",),
    ("tax.taxpayer_registered", "tax.invoices_approved"),
)


def _record(key: str, upto: int) -> dict[str, Any]:
    history = [
        {
            "event_id": f"{key}-{name}",
            "event_type": name,
            "department": name.split(".")[0],
            "occurred_at": (START + timedelta(minutes=10 * (i + 1))).isoformat(),
        }
        for i, name in enumerate(n for step in STEPS[: upto + 1] for n in step)
    ]
    return {
        "kind": "enterprise",
        "key": key,
        "fields": {},
        "completeness": {},
        "conflicts": [],
        "status": "active",
        "collections": {},
        "history": history,
        "facts": {h["event_type"]: {**h, "count": 1} for h in history},
    }


def _fresh(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)


def one_run(engine: Engine, cases: int, run: int) -> tuple[float, float]:
    """(desk advances per second, baseline transactions per second) of one run."""
    rng = random.Random(run)
    service = DeskService(make_session_factory(engine), clock=lambda: START + timedelta(hours=1))
    keys = [make_credit_code(rng, "510113") for _ in range(cases)]
    for key in keys:
        service.submit(
            {
                "case_type": "startup",
                "credit_code": key,
                "address": "成都市1号",
                "legal_representative_name": "张三",
                "bundle": ["seal", "tax_and_invoices"],
                "legal_representative_id": make_resident_id(rng, "510113", date(1985, 3, 1)),
            },
            Actor("bench", "clerk"),
            "weinan",
        )
    with engine.connect() as conn:
        first_id = conn.execute(
            select(text("coalesce(max(id), 0)")).select_from(TIMELINE)
        ).scalar_one()
    work = [(k, step) for step in range(len(STEPS)) for k in keys]
    group, topic = f"bench-{run}", "exchange.enterprise.v1"
    added: list[int] = []
    began = time.perf_counter()
    for offset, (key, step) in enumerate(work):
        added.append(
            service.apply_record(
                _record(key, step), topic=topic, partition=0, offset=offset, group=group
            )
        )
    desk_rate = len(work) / (time.perf_counter() - began)

    with engine.connect() as conn:  # the rows the desk wrote, in the order it wrote them
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(TIMELINE).where(TimelineRow.id > first_id).order_by(TimelineRow.id)
            )
        ]
    assert len(rows) == sum(added)
    for row in rows:
        row.pop("id")
        row["event_id"] += "#raw"
        row["seq"] += 100_000
    by_tx, at = [], 0
    for count in added:  # one bare transaction per record, with that record's rows
        by_tx.append(rows[at : at + count])
        at += count
    began = time.perf_counter()
    for n, entries in enumerate(by_tx):
        with engine.begin() as conn:
            if entries:
                conn.execute(insert(TIMELINE), entries)
            conn.execute(
                insert(RECORDS),
                [
                    {
                        "kind": "raw",
                        "key": f"{run}-{n}",
                        "name": None,
                        "record": _record("K", 2),
                        "topic": topic,
                        "partition": 0,
                        "offset": n,
                        "stored_at": START,
                    }
                ],
            )
            conn.execute(
                insert(OFFSETS),
                [{"group_id": f"raw-{run}", "topic": topic, "partition": n, "next_offset": n + 1}],
            )
    raw_rate = len(by_tx) / (time.perf_counter() - began)
    return desk_rate, raw_rate


def _pg_url() -> str:
    given = os.environ.get("EXCHANGE_BENCH_PG_URL")
    if given:
        return given
    done = subprocess.run(
        [str(REPO_ROOT / "deploy/postgres/pg.sh"), "up"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "EXCHANGE_PG_DB": "exchange_bench"},
    )
    return done.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    print(f"{args.cases} cases x {len(STEPS)} records per run, {args.runs} runs; medians")
    print(f"{'backend':<11} {'desk advances/s':>16} {'raw inserts tx/s':>17} {'desk/raw':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}" if backend == "sqlite" else _pg_url()
            _fresh(url)
            engine = make_engine(url)
            try:
                results = [one_run(engine, args.cases, run) for run in range(args.runs)]
            finally:
                engine.dispose()
            desk = statistics.median(r[0] for r in results)
            raw = statistics.median(r[1] for r in results)
            print(f"{backend:<11} {desk:>16.1f} {raw:>17.1f} {desk / raw:>9.2f}")


if __name__ == "__main__":
    main()
