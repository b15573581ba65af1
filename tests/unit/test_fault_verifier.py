"""The fault verifier fails on what it must catch: a lost event, a doubled one, a changed record."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from exchange.faults.traffic import Traffic, TrafficSize
from exchange.faults.verify import Verdict, converged, verify_join
from exchange.schemas import default_registry
from exchange.worker.harness import reference_of
from exchange.worker.reference import ReferenceJoin

pytestmark = pytest.mark.unit


@dataclass
class Seen:
    records: dict[str, dict[str, dict[str, Any]]]
    dead_letter_ids: Counter[str] = field(default_factory=Counter)


@pytest.fixture(scope="module")
def run() -> tuple[Traffic, ReferenceJoin]:
    registry = default_registry()
    traffic = Traffic.generate(11, TrafficSize(40, 25), registry)
    return traffic, reference_of(traffic.messages, registry)


def perfect(ref: ReferenceJoin) -> Seen:
    seen = Seen({"enterprise": copy.deepcopy(ref.enterprises),
                 "property": copy.deepcopy(ref.properties)})
    for dl in ref.dead_letters:
        seen.dead_letter_ids[dl.incoming.headers["event_id"].decode()] += 1
    return seen


def check(traffic: Traffic, ref: ReferenceJoin, seen: Seen) -> Verdict:
    verdict = Verdict("unit")
    verify_join(verdict, traffic.event_ids, len(traffic.messages), ref, seen)
    return verdict


def test_the_reference_itself_passes(run: tuple[Traffic, ReferenceJoin]) -> None:
    traffic, ref = run
    verdict = check(traffic, ref, perfect(ref))
    assert verdict.passed, verdict.report()
    assert converged(ref, perfect(ref))
    assert verdict.applied + verdict.dead_lettered == len(traffic.event_ids)
    assert verdict.dead_lettered > 0 and verdict.line().endswith("result=PASS")


def test_a_lost_event_is_missing(run: tuple[Traffic, ReferenceJoin]) -> None:
    traffic, ref = run
    seen = perfect(ref)
    key, record = next(iter(seen.records["enterprise"].items()))
    seen.records["enterprise"][key] = {**record, "history": record["history"][1:]}
    verdict = check(traffic, ref, seen)
    assert (verdict.missing, verdict.differing, verdict.passed) == (1, 1, False)
    assert "result=FAIL" in verdict.line()


def test_a_lost_dead_letter_is_missing(run: tuple[Traffic, ReferenceJoin]) -> None:
    traffic, ref = run
    seen = perfect(ref)
    seen.dead_letter_ids.pop(next(iter(seen.dead_letter_ids)))
    verdict = check(traffic, ref, seen)
    assert verdict.missing == 1 and not verdict.passed
    assert not converged(ref, seen)


def test_an_event_applied_twice_is_duplicated(run: tuple[Traffic, ReferenceJoin]) -> None:
    traffic, ref = run
    seen = perfect(ref)
    key, record = next(iter(seen.records["property"].items()))
    seen.records["property"][key] = {**record, "history": record["history"] * 2}
    verdict = check(traffic, ref, seen)
    assert verdict.duplicated == len(record["history"]) and not verdict.passed


def test_a_repeated_dead_letter_is_only_a_note(run: tuple[Traffic, ReferenceJoin]) -> None:
    traffic, ref = run
    seen = perfect(ref)
    seen.dead_letter_ids[next(iter(seen.dead_letter_ids))] += 1
    verdict = check(traffic, ref, seen)
    assert verdict.passed and any("repeated" in n for n in verdict.notes)


def test_a_changed_or_extra_record_differs(run: tuple[Traffic, ReferenceJoin]) -> None:
    traffic, ref = run
    seen = perfect(ref)
    key, record = next(iter(seen.records["enterprise"].items()))
    seen.records["enterprise"][key] = {**record, "status": "tampered"}
    seen.records["property"]["not-a-unit"] = {"history": []}
    verdict = check(traffic, ref, seen)
    assert verdict.differing == 2 and verdict.missing == 0 and not verdict.passed
