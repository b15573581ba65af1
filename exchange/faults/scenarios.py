"""The fault scenarios, and the seeded plan of when each fault strikes.

A fault strikes at a share of the run's progress (the share of the traffic's events already
seen in a unified record or a dead letter), drawn from the scenario's seed: "random
moments" that a failing seed reproduces.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """Which faults a scenario injects."""

    name: str
    broker_kill: bool = False  # kill -9 of one broker, restarted later in the run
    broker_clean_restart: bool = False  # SIGTERM of one broker, restarted at once
    worker_kills: int = 0  # kill -9 of the (surviving) worker, restarted at once
    two_workers: bool = False  # two workers with one app id; the first killed for good
    desk_kills: int = 0  # kill -9 of ``exchange desk``, restarted at once
    publisher_crash: bool = False  # a publisher killed before flush, its batch sent again

    @property
    def with_desk(self) -> bool:
        """Whether the scenario runs a desk."""
        return self.desk_kills > 0


SCENARIOS = (
    Scenario("broker-kill", broker_kill=True),
    Scenario("broker-clean-restart", broker_clean_restart=True),
    Scenario("worker-kills", worker_kills=3),
    Scenario("worker-rebalance", two_workers=True),
    Scenario("desk-kill", desk_kills=2),
    Scenario("publisher-crash", publisher_crash=True),
    Scenario("mixed", broker_kill=True, broker_clean_restart=True, worker_kills=2,
             two_workers=True, desk_kills=2, publisher_crash=True),
)
BY_NAME = {s.name: s for s in SCENARIOS}


@dataclass(frozen=True, order=True)
class Strike:
    """One fault at a share of the progress: ``what`` names it, ``node`` for a broker."""

    at: float
    what: str
    node: int = 0


def plan(scenario: Scenario, seed: int) -> list[Strike]:
    """The strikes of ``scenario`` for ``seed``, in the order they happen."""
    rng = random.Random(f"{seed}:{scenario.name}:faults")
    strikes: list[Strike] = []
    if scenario.broker_kill:
        node = rng.choice((1, 2, 3))
        strikes += [Strike(rng.uniform(0.10, 0.25), "broker-kill", node),
                    Strike(rng.uniform(0.45, 0.60), "broker-start", node)]
    if scenario.broker_clean_restart:
        strikes.append(Strike(rng.uniform(0.65, 0.80), "broker-restart", rng.choice((1, 2, 3))))
    if scenario.two_workers:
        strikes.append(Strike(rng.uniform(0.20, 0.50), "worker-kill-for-good"))
    strikes += [Strike(rng.uniform(0.05, 0.90), "worker-kill") for _ in
                range(scenario.worker_kills)]
    strikes += [Strike(rng.uniform(0.20, 0.95), "desk-kill") for _ in range(scenario.desk_kills)]
    return sorted(strikes)


def crash_chunk(scenario: Scenario, seed: int, chunks: int) -> int | None:
    """The chunk a crashing publisher sends first (None: no publisher crash)."""
    if not scenario.publisher_crash:
        return None
    return random.Random(f"{seed}:{scenario.name}:publisher").randrange(2, chunks - 2)
