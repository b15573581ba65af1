"""The desk under faults: ``exchange desk`` on SQLite, killed mid-transaction, compared with
the pure domain.

Cases are opened (start-ups with the credit code of simulated enterprises, the whole bundle)
before the traffic flows, with the clock set before the simulator's first day so that every
department answer is "fresh". The desk process consumes the worker's output and is killed
with SIGKILL while it applies records. The expected timeline of a case is the pure domain's
(:func:`accept`, then :func:`advance` over every version of the case's record in the order of
the output partition, as long as the case is open): what a desk that never crashed records.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from consumers.desk.domain import accept, advance, parse_form
from consumers.desk.domain.forms import BUNDLE_ITEMS
from consumers.desk.service import Actor, DeskService
from consumers.desk.store.db import make_engine, make_session_factory
from consumers.desk.store.migrate import upgrade
from exchange.faults.verify import Verdict
from exchange.identifiers import make_resident_id

#: When the cases were accepted: before the simulator's first day (2024-01-02).
ACCEPTED_AT = datetime(2024, 1, 1, 2, 0, tzinfo=UTC)
CLERK = Actor("fault-suite", "clerk")
Offsets = Mapping[tuple[str, int], int]


def startup_form(credit_code: str, rng: random.Random) -> dict[str, Any]:
    """A start-up form for an enterprise that has its credit code, whole bundle."""
    return {
        "case_type": "startup",
        "credit_code": credit_code,
        "legal_representative_name": "张三",
        "legal_representative_id": make_resident_id(rng, "510113", date(1985, 3, 1)),
        "address": "成都市青白江区大同路1号",
        "bundle": list(BUNDLE_ITEMS),
    }


class DeskRun:
    """One desk: its SQLite database, its cases and its ``exchange desk`` process."""

    def __init__(self, bootstrap: str, workdir: Path, group: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.url = f"sqlite:///{workdir / 'desk.sqlite3'}"
        upgrade(self.url)
        self.engine = make_engine(self.url)
        self.service = DeskService(make_session_factory(self.engine), clock=lambda: ACCEPTED_AT)
        self.group = group
        self.env = {**os.environ, "EXCHANGE_KAFKA_BOOTSTRAP": bootstrap,
                    "EXCHANGE_DATABASE_URL": self.url, "EXCHANGE_DESK_GROUP": group,
                    "EXCHANGE_DESK_METRICS_PORT": "0", "EXCHANGE_DATA_DIR": str(workdir)}
        self.log_path = workdir / "desk.log"
        self.cases: dict[str, tuple[str, dict[str, Any]]] = {}  # case id -> (key, form)
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def open_cases(self, keys: list[str], seed: int) -> None:
        """Submit one start-up case per credit code (before the desk process runs)."""
        rng = random.Random(f"{seed}:desk")
        for key in keys:
            form = startup_form(key, rng)
            self.cases[self.service.submit(form, CLERK)] = (key, form)

    @property
    def keys(self) -> set[str]:
        """The credit codes the cases are about."""
        return {key for key, _ in self.cases.values()}

    def start(self) -> None:
        """Start ``exchange desk`` (consumer only: no scheduler, no fan-out)."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "exchange.cli", "desk", "--no-scheduler", "--no-publish"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def kill_while_applying(self, within: float = 15.0) -> bool:
        """Wait until the desk is committing records (its stored offsets move), then SIGKILL.

        A desk that is applying a record per transaction is then, most likely, inside one.
        Returns whether movement was seen before ``within`` seconds (killed either way).
        """
        deadline = time.monotonic() + within
        before = sum(self.stored().values())
        moving = False
        while not moving and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the desk's progress
            moving = sum(self.stored().values()) > before
        self.kill()
        return moving

    def kill(self) -> None:
        """SIGKILL: whatever transaction is open is never committed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
            self.kills += 1

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop within a minute; dispose the engine."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()
        self.engine.dispose()

    def alive(self) -> bool:
        """Whether the desk process runs."""
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        """The end of the desk's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stored(self) -> dict[tuple[str, int], int]:
        """The next offsets the desk database has committed."""
        with self.service.uow() as uow:
            return uow.offsets.all(self.group)

    def caught_up(self, ends: Offsets) -> bool:
        """Whether the desk has committed every offset up to ``ends``."""
        stored = self.stored()
        return all(stored.get(tp, 0) >= end for tp, end in ends.items())

    def compare(self, versions: Mapping[str, list[dict[str, Any]]], verdict: Verdict) -> None:
        """Count cases whose stored timeline differs from the pure domain's, entry by entry."""
        now = datetime.now(UTC)
        differing: list[str] = []
        for case_id, (key, form) in sorted(self.cases.items()):
            case, expected = accept(case_id, parse_form(form), ACCEPTED_AT)
            expected += advance(case, None, ACCEPTED_AT)
            for record in versions.get(key, []):
                if case.status != "open":
                    break  # the desk advances open cases only
                expected += advance(case, record, now)
            detail = self.service.case(case_id)
            got = detail.timeline if detail is not None else []
            counts = Counter(e["event_id"] for e in got)
            verdict.duplicated += sum(c - 1 for c in counts.values() if c > 1)
            want = {e.event_id: _comparable(e.to_dict()) for e in expected}
            have = {e["event_id"]: _comparable(e) for e in got}
            verdict.missing += len(want.keys() - have.keys())
            if want != have:
                differing.append(case_id)
                if len(differing) > 5:
                    continue  # the count says how many; five samples say what
                lost = sorted(want.keys() - have.keys())[:3]
                extra = sorted(have.keys() - want.keys())[:3]
                changed = sorted(k for k in want.keys() & have.keys() if want[k] != have[k])[:3]
                verdict.notes.append(f"case {case_id}: missing {lost}, unexpected {extra}, "
                                     f"different {changed}")
        verdict.cases = len(self.cases)
        entries = sum(len(d.timeline) for c in self.cases if (d := self.service.case(c)))
        verdict.notes.append(f"desk: {entries} timeline entries in {len(self.cases)} cases "
                             f"compared with the pure domain")
        verdict.differing += len(differing)


def _comparable(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A timeline entry without ``recorded_at`` (the wall clock of the call that wrote it)."""
    return {k: v for k, v in entry.items() if k != "recorded_at"}
