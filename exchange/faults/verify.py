"""The verifier: the end state of a faulty run against the fault-free reference of the same seed.

In the spirit of Kafka's exactly-once system tests: the reference is the pure fold of the
very bytes that were published (:func:`exchange.worker.harness.reference_of`), computed
without Kafka; the faulty run's end state is read back from the topics. A run passes when

- every unified record equals the reference's, whole (fields, provenance, facts,
  completeness, conflicts, collections, history), and no record exists that should not;
- every published event is accounted for, in a record's history or in the dead-letter topic,
  where the reference put it (``missing`` counts those that are not);
- no history holds an event twice, no case timeline an entry twice (``duplicated``);
- every desk case has the pure domain's timeline (``differing`` counts records and cases
  that differ).

The dead-letter topic is written at least once (a worker killed after sending a dead letter
and before committing its offset sends it again), so a repeated dead letter is reported in
the notes, not as a duplicated effect: its consumers key it by ``original_event_id``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from exchange.worker.reference import ReferenceJoin


class Observed(Protocol):
    """The end state read back (:class:`exchange.faults.observe.BusObserver`)."""

    @property
    def records(self) -> Mapping[str, Mapping[str, dict[str, Any]]]:
        """The latest record per key, by kind."""

    @property
    def dead_letter_ids(self) -> Mapping[str, int]:
        """How often each original event id was dead-lettered."""


@dataclass
class Verdict:
    """The counts of one scenario, and why it failed if it did."""

    scenario: str
    published: int = 0
    applied: int = 0
    dead_lettered: int = 0
    missing: int = 0
    duplicated: int = 0
    differing: int = 0
    cases: int = 0
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No missing, duplicated or differing effect, and no other failure."""
        return not (self.missing or self.duplicated or self.differing or self.failures)

    def line(self) -> str:
        """The one line printed per scenario."""
        return (f"scenario={self.scenario} published={self.published} applied={self.applied} "
                f"dead_lettered={self.dead_lettered} missing={self.missing} "
                f"duplicated={self.duplicated} differing={self.differing} cases={self.cases} "
                f"result={'PASS' if self.passed else 'FAIL'}")

    def report(self) -> str:
        """The line, then notes and failures indented (for logs and assertion messages)."""
        extra = [f"  note: {n}" for n in self.notes] + [f"  FAIL: {f}" for f in self.failures]
        return "\n".join([self.line(), *extra])


def _sample(ids: Iterable[str], n: int = 5) -> str:
    return ", ".join(sorted(ids)[:n])


def verify_join(verdict: Verdict, published_ids: set[str], published: int,
                ref: ReferenceJoin, seen: Observed) -> None:
    """Fill ``verdict`` with the join's counts: records, histories, dead letters."""
    verdict.published = published
    ref_applied = {h["event_id"] for recs in (ref.enterprises, ref.properties)
                   for r in recs.values() for h in r["history"]}
    ref_dead = {dl.incoming.headers.get("event_id", b"").decode("utf-8", "replace")
                for dl in ref.dead_letters}
    unexplained = published_ids - ref_applied - ref_dead
    if unexplained:
        verdict.failures.append(f"{len(unexplained)} published events are in no reference "
                                f"record and no reference dead letter: {_sample(unexplained)}")
    applied: set[str] = set()
    duplicated = 0
    for recs in seen.records.values():
        for record in recs.values():
            ids = Counter(h["event_id"] for h in record.get("history", ()))
            applied.update(ids)
            duplicated += sum(c - 1 for c in ids.values() if c > 1)
    dead = set(seen.dead_letter_ids)
    missing = (ref_applied - applied) | (ref_dead - dead) | (published_ids - applied - dead)
    verdict.applied = len(applied & published_ids)
    verdict.dead_lettered = len(dead & published_ids)
    verdict.missing += len(missing)
    verdict.duplicated += duplicated
    if missing:
        verdict.notes.append(f"missing events: {_sample(missing)}")
    repeats = sum(c - 1 for c in seen.dead_letter_ids.values() if c > 1)
    if repeats:
        verdict.notes.append(f"{repeats} dead letters repeated (at-least-once topic)")
    differing = []
    for kind, expected in (("enterprise", ref.enterprises), ("property", ref.properties)):
        got = seen.records[kind]
        differing += [f"{kind}/{k}" for k, v in expected.items() if got.get(k) != v]
        differing += [f"{kind}/{k} (not in the reference)" for k in got.keys() - expected.keys()]
    verdict.differing += len(differing)
    if differing:
        verdict.notes.append(f"records differing from the reference: {_sample(differing)} "
                             f"(details in the scenario's differences.json)")


def converged(ref: ReferenceJoin, seen: Observed) -> bool:
    """Whether the output equals the reference and every reference dead letter arrived."""
    for kind, expected in (("enterprise", ref.enterprises), ("property", ref.properties)):
        got = seen.records[kind]
        if len(got) != len(expected) or any(got.get(k) != v for k, v in expected.items()):
            return False
    wanted = {dl.incoming.headers.get("event_id", b"").decode("utf-8", "replace")
              for dl in ref.dead_letters}
    return wanted <= set(seen.dead_letter_ids)
