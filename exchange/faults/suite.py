"""``python -m exchange.faults.suite``: every fault scenario on a fresh three-broker cluster.

Prints one verifier line per scenario and exits 1 if any failed. ``--size full`` (about
ten thousand events per scenario) is what ``make fault-suite`` runs; ``--size modest`` is
the size of the tests in ``make test``. ``-v`` also prints each scenario's notes (strikes,
partial deliveries, samples of what differed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from exchange.faults.cluster import start_cluster
from exchange.faults.runner import ScenarioRun
from exchange.faults.scenarios import BY_NAME, SCENARIOS
from exchange.faults.traffic import SIZES


def main(argv: list[str] | None = None) -> int:
    """Start the cluster, run the chosen scenarios one after another, stop the cluster."""
    parser = argparse.ArgumentParser(prog="exchange.faults.suite", description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--seed", type=int, default=20241)
    parser.add_argument("--scenario", action="append", choices=sorted(BY_NAME),
                        help="run only these (repeatable); default: all, mixed last")
    parser.add_argument("--cases", type=int, default=None,
                        help="desk cases per desk scenario (default 40 modest, 150 full)")
    parser.add_argument("--dir", type=Path, default=None, help="work dir (default: a tmp dir)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    chosen = [BY_NAME[n] for n in args.scenario] if args.scenario else list(SCENARIOS)
    cases = args.cases or (150 if args.size == "full" else 40)
    with tempfile.TemporaryDirectory(prefix="fault-suite-") as tmp:
        root = (args.dir or Path(tmp)).resolve()
        began = time.monotonic()
        cluster = start_cluster(root / "kafka")
        print(f"three brokers ready in {time.monotonic() - began:.0f} s: {cluster.bootstrap}",
              file=sys.stderr, flush=True)
        failed = 0
        try:
            for n, scenario in enumerate(chosen):
                t0 = time.monotonic()
                verdict = ScenarioRun(cluster, scenario, SIZES[args.size], args.seed + n,
                                      root / scenario.name, desk_cases=cases).run()
                print(verdict.line(), flush=True)
                print(f"  ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
                if args.verbose or not verdict.passed:
                    print(verdict.report().split("\n", 1)[-1] if verdict.report().count("\n")
                          else "", file=sys.stderr, flush=True)
                failed += not verdict.passed
        finally:
            cluster.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
