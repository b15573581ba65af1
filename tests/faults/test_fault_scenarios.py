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

#: Within the budget of ``make test``: the publisher killed between send and acknowledgement,
#: the join worker killed three times, and two workers sharing the load, one killed for good.
#: (The worker scenarios stayed out while Faust's stream lost a fetched message now and then
#: at the end of a rebalance; the join's sources no longer go through it, see
#: ``exchange.worker.intake``.) ``make fault-suite`` runs every scenario at full size.
IN_MAKE_TEST = ("publisher-crash", "worker-kills", "worker-rebalance")


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
