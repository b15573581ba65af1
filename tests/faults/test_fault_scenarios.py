"""The fault suite on the three-broker cluster (RF 3, min.insync.replicas 2), modest traffic.

Each scenario publishes a few thousand simulated events while its faults strike and must
end exactly where the fault-free reference of the same seed ends (see
:mod:`exchange.faults.verify`). ``make test`` runs the scenarios listed in ``IN_MAKE_TEST``;
``EXCHANGE_FAULT_SCENARIOS=all`` (or a comma-separated
list) runs others, and ``EXCHANGE_FAULT_SIZE=full`` the full traffic (as ``make
fault-suite`` does through ``python -m exchange.faults.suite``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from exchange.faults.runner import ScenarioRun
from exchange.faults.scenarios import SCENARIOS
from exchange.faults.traffic import SIZES

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(1500)]

#: Within the budget of ``make test``: the publisher killed between send and
#: acknowledgement. worker-kills and worker-rebalance pass in about nine runs of ten: Faust
#: now and then skips a fetched message after a restart or rebalance; the strict commits of
#: ``exchange.worker.positions`` keep it from being committed over (a restart reads it
#: again), but the run ends without it. Recorded in issue 6; ``make fault-suite`` runs them
#: with every other scenario.
IN_MAKE_TEST = ("publisher-crash",)


def _chosen() -> list[str]:
    wanted = os.environ.get("EXCHANGE_FAULT_SCENARIOS", ",".join(IN_MAKE_TEST))
    names = [s.name for s in SCENARIOS]
    return names if wanted == "all" else [n for n in names if n in wanted.split(",")]


@pytest.mark.parametrize("name", _chosen())
def test_scenario_ends_as_the_reference(name: str, kafka_cluster: Any, tmp_path: Path) -> None:
    scenario = next(s for s in SCENARIOS if s.name == name)
    size = SIZES[os.environ.get("EXCHANGE_FAULT_SIZE", "modest")]
    seed = 7000 + [s.name for s in SCENARIOS].index(name)
    verdict = ScenarioRun(kafka_cluster, scenario, size, seed, tmp_path, desk_cases=30).run()
    print(verdict.report())
    assert verdict.published > 1000 and verdict.applied > 1000, verdict.report()
    if scenario.with_desk:
        assert verdict.cases == 30, verdict.report()
    assert verdict.passed, verdict.report()
