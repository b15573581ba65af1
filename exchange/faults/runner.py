"""One scenario, end to end: fresh topics, traffic published while faults strike, the verdict.

The runner owns every process it starts (workers, desk, crashing publisher) and stops them
on every path; a broker it took down is brought back before it returns, since the cluster
is shared by the scenarios that follow.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exchange.faults.cluster import REPLICATION, clean_restart, reset_bus_topics
from exchange.faults.desk import DeskRun
from exchange.faults.observe import BusObserver, end_offsets
from exchange.faults.scenarios import Scenario, Strike, crash_chunk, plan
from exchange.faults.traffic import Traffic, TrafficPublisher, TrafficSize
from exchange.faults.verify import Verdict, converged, verify_join
from exchange.schemas import default_registry
from exchange.settings import load_settings
from exchange.worker.harness import WorkerProcess, reference_of

log = logging.getLogger(__name__)
CHUNKS = 20
LEAD = 3  # chunks the publisher may run ahead of the join's progress
PARTITIONS = 4


@dataclass
class Timeouts:
    """Generous deadlines for a loaded two-core machine (seconds)."""

    run: float = 900.0  # publishing and every strike
    converge: float = 600.0  # output equal to the reference once all is published
    desk: float = 600.0  # the desk caught up with the output
    stall: float = 180.0  # output not moving while not yet equal to the reference


@dataclass
class ScenarioRun:
    """Runs ``scenario`` on ``cluster`` with ``size`` traffic drawn from ``seed``."""

    cluster: Any
    scenario: Scenario
    size: TrafficSize
    seed: int
    workdir: Path
    timeouts: Timeouts = field(default_factory=Timeouts)
    desk_cases: int = 40

    def __post_init__(self) -> None:
        self.env = {"EXCHANGE_TOPIC_REPLICATION": str(REPLICATION),
                    "EXCHANGE_TOPIC_PARTITIONS": str(PARTITIONS)}
        self.settings = load_settings(kafka_bootstrap=self.cluster.bootstrap,
                                      topic_replication=REPLICATION,
                                      topic_partitions=PARTITIONS)
        self.registry = default_registry(self.settings)
        self.verdict = Verdict(self.scenario.name)
        self.workers: list[WorkerProcess] = []
        self.killed_for_good: set[int] = set()
        self.desk: DeskRun | None = None
        self.progress = 0.0

    # -- the run
    def run(self) -> Verdict:
        """Run the scenario; the verdict's line is what the suite prints."""
        reset_bus_topics(self.settings, self.registry)
        traffic = Traffic.generate(self.seed, self.size, self.registry)
        ref = reference_of(traffic.messages, self.registry)
        ids = traffic.event_ids
        tracked: set[str] = set()
        if self.scenario.with_desk:
            self.desk = DeskRun(self.cluster.bootstrap, self.workdir / "desk",
                                f"desk-{uuid.uuid4().hex[:8]}")
            rng = random.Random(f"{self.seed}:cases")
            started = sorted(k for k, r in ref.enterprises.items() if r["status"] != "pending")
            self.desk.open_cases(rng.sample(started, min(self.desk_cases, len(started))),
                                 self.seed)
            tracked = self.desk.keys
        observer = BusObserver(self.cluster.bootstrap, tracked)
        app_id = f"faults-{self.scenario.name}-{uuid.uuid4().hex[:6]}"
        for n in range(2 if self.scenario.two_workers else 1):
            self.workers.append(InfoWorker(self.cluster.bootstrap, app_id,
                                              self.workdir / f"worker-{n}", self.env))
        strikes = plan(self.scenario, self.seed)
        crash = crash_chunk(self.scenario, self.seed, CHUNKS)
        publisher = TrafficPublisher(
            self.settings, self.registry, traffic, CHUNKS,
            gate=lambda i: i <= LEAD or self.progress >= (i - LEAD) / CHUNKS,
            before_chunk=lambda i, r: self._crash_publisher(traffic, i, r) if i == crash else None)
        try:
            for w in self.workers:
                w.start()
            if self.desk is not None:
                self.desk.start()
            publisher.start()
            self._inject(observer, ids, publisher, strikes)
            self._converge(observer, ref)
            if self.desk is not None:
                self._desk_catch_up(observer)
        except (TimeoutError, RuntimeError) as exc:
            self.verdict.failures.append(str(exc))
        finally:
            self._tear_down(observer)
        verify_join(self.verdict, ids, len(traffic.messages), ref, observer)
        dump_differences(ref, observer, self.workdir / "differences.json")
        if self.desk is not None:
            self.desk.compare(observer.versions, self.verdict)
        if publisher.resent_chunks:
            self.verdict.notes.append(f"{publisher.resent_chunks} chunks sent again (unconfirmed)")
        return self.verdict

    def _inject(self, observer: BusObserver, ids: set[str], publisher: TrafficPublisher,
                strikes: list[Strike]) -> None:
        deadline = time.monotonic() + self.timeouts.run
        pending = list(strikes)
        while publisher.is_alive() or pending:
            observer.poll(500)
            self.progress = observer.accounted(ids)
            while pending and self.progress >= pending[0].at:
                self._strike(pending.pop(0))
            self._check_alive()
            if publisher.error is not None:
                raise RuntimeError(f"publisher failed: {publisher.error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"run not done within {self.timeouts.run:.0f} s at progress "
                                   f"{self.progress:.2f}, strikes left {pending}")
        if publisher.error is not None:
            raise RuntimeError(f"publisher failed: {publisher.error!r}")

    def _strike(self, strike: Strike) -> None:
        began = time.monotonic()
        if strike.what == "broker-kill":
            self.cluster.kill(strike.node)
        elif strike.what == "broker-start":
            self.cluster.restart(strike.node, 240)
        elif strike.what == "broker-restart":
            clean_restart(self.cluster, strike.node, 240)
        elif strike.what == "worker-kill-for-good":
            self.workers[0].kill()
            self.killed_for_good.add(0)
        elif strike.what == "worker-kill":
            survivor = self.workers[-1]
            survivor.kill()
            survivor.start()
        elif strike.what == "desk-kill" and self.desk is not None:
            if not self.desk.kill_while_applying():
                self.verdict.notes.append("desk killed while idle (no record to apply)")
            self.desk.start()
        node = f" node {strike.node}" if strike.node else ""
        self.verdict.notes.append(f"{strike.what}{node} at progress {self.progress:.2f} "
                                  f"({time.monotonic() - began:.1f} s)")

    def _check_alive(self) -> None:
        """A process that died without being killed fails the run (and is started again)."""
        for n, w in enumerate(self.workers):
            if n not in self.killed_for_good and not w.alive():
                code = w.proc.returncode if w.proc is not None else None
                self.verdict.failures.append(f"worker {n} exited by itself (exit code {code}, "
                                             f"log {w.log_path}):\n{w.log_tail(15)}")
                w.start()
        if self.desk is not None and not self.desk.alive():
            self.verdict.failures.append(f"desk exited by itself:\n{self.desk.log_tail(15)}")
            self.desk.start()

    def _converge(self, observer: BusObserver, ref: Any) -> None:
        deadline = time.monotonic() + self.timeouts.converge
        last_check = 0.0
        moved_at, seen = time.monotonic(), observer.messages
        while True:
            observer.poll(1000)
            self._check_alive()
            if observer.messages != seen:
                moved_at, seen = time.monotonic(), observer.messages
            if time.monotonic() - last_check > 3.0:
                if converged(ref, observer):
                    return
                last_check = time.monotonic()
            if time.monotonic() - moved_at > self.timeouts.stall:
                raise TimeoutError(self._stalled())
            if time.monotonic() > deadline:
                raise TimeoutError(f"output not equal to the reference within "
                                   f"{self.timeouts.converge:.0f} s")

    def _stalled(self) -> str:
        """Ask every live worker for its task stacks (SIGUSR1: mode's "cry", into its log),
        then say which workers stalled, with the end of their logs."""
        live = [w for w in self.workers if w.alive()]
        for w in live:
            w.cry()
        time.sleep(3.0)
        tails = "\n".join(f"--- {w.log_path}\n{w.log_tail(60)}" for w in live)
        return (f"output stalled: nothing new for {self.timeouts.stall:.0f} s before it equals "
                f"the reference; {len(live)} live worker(s), their task stacks are in their "
                f"logs:\n{tails}")

    def _desk_catch_up(self, observer: BusObserver) -> None:
        assert self.desk is not None
        ends = end_offsets(self.cluster.bootstrap)
        deadline = time.monotonic() + self.timeouts.desk
        while not self.desk.caught_up(ends) or not _read_up_to(observer, ends):
            observer.poll(1000)
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"desk not caught up with {ends} within "
                                   f"{self.timeouts.desk:.0f} s: {self.desk.stored()}")

    def _crash_publisher(self, traffic: Traffic, chunk: int, indices: range) -> None:
        """Send ``indices`` from a child process and SIGKILL it before it flushes."""
        topics = tuple(sorted(self.registry.topics()))
        before = sum(end_offsets(self.cluster.bootstrap, topics).values())
        env = {**os.environ, "EXCHANGE_KAFKA_BOOTSTRAP": self.cluster.bootstrap, **self.env}
        cmd = [sys.executable, "-m", "exchange.faults.crashing_publisher", str(self.seed),
               str(self.size.enterprises), str(self.size.properties),
               str(indices.start), str(indices.stop)]
        child = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
        try:
            said = child.stdout.readline().decode().strip() if child.stdout else ""
        finally:
            child.kill()
            child.wait(30)
        reached = sum(end_offsets(self.cluster.bootstrap, topics).values()) - before
        self.verdict.notes.append(f"publisher killed before flush on chunk {chunk} "
                                  f"({said or 'said nothing'}; {reached} of {len(indices)} "
                                  f"reached the topics); the chunk is sent again from its source")

    def _tear_down(self, observer: BusObserver) -> None:
        for w in self.workers:
            w.stop()
        if self.desk is not None:
            self.desk.stop()
        for node in self.cluster.nodes:
            if not node.running:
                self.cluster.restart(node.node_id, 240)
        observer.poll(1000)
        observer.close()


class InfoWorker(WorkerProcess):
    """``exchange worker --loglevel info``: Faust's recovery and rebalance lines in the log."""

    def start(self) -> None:
        """Start the worker, logging at info level."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "exchange.cli", "worker", "--loglevel", "info"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT)


def dump_differences(ref: Any, seen: BusObserver, path: Path, limit: int = 5) -> None:
    """Write up to ``limit`` differing records (expected, got) as JSON, for a post-mortem."""
    out: list[dict[str, Any]] = []
    for kind, expected in (("enterprise", ref.enterprises), ("property", ref.properties)):
        for key, record in expected.items():
            got = seen.records[kind].get(key)
            if got != record and len(out) < limit:
                fields = sorted(k for k in record.keys() | (got or {}).keys()
                                if (got or {}).get(k) != record.get(k))
                out.append({"kind": kind, "key": key, "top_level_differing": fields,
                            "expected": record, "got": got})
    if out:
        path.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str))


def _read_up_to(observer: BusObserver, ends: dict[tuple[str, int], int]) -> bool:
    from kafka import TopicPartition

    consumer = observer.consumer
    return all(consumer.position(TopicPartition(t, p)) >= end for (t, p), end in ends.items())
