"""Pending department answers: due times, dependencies, and which applications are settled.

Pure bookkeeping with an injected clock value (seconds, monotonic): an answer becomes due
``fate.delay_seconds`` after everything it waits for was published (after the application
for the first ones); a lost answer never comes, nor does anything waiting for it. An
application is *settled* when each of its answers was published or lost: only then may its
offset be committed (see :class:`OffsetTracker`).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from producers.responders.application import Application
from producers.responders.config import Fate, ResponderConfig
from producers.responders.plan import Reaction


@dataclass
class CaseRun:
    """The answers to one application and how far they got."""

    app: Application
    partition: tuple[str, int]
    offset: int
    reactions: dict[str, Reaction]
    fates: dict[str, Fate]
    published: set[str] = field(default_factory=set)
    lost: set[str] = field(default_factory=set)
    scheduled: set[str] = field(default_factory=set)

    @property
    def settled(self) -> bool:
        """Every answer published or lost."""
        return len(self.published) + len(self.lost) == len(self.reactions)


class AnswerSchedule:
    """Due answers of every open application, in due-time order."""

    def __init__(self, config: ResponderConfig) -> None:
        self.config = config
        self.runs: dict[str, CaseRun] = {}
        self._heap: list[tuple[float, int, str, str]] = []
        self._seq = itertools.count()

    def add(self, app: Application, reactions: Iterable[Reaction], partition: tuple[str, int],
            offset: int, now: float) -> CaseRun:
        """Start answering ``app``; the answers that wait for nothing are scheduled now."""
        by_name = {r.name: r for r in reactions}
        fates = {n: self.config.fate(app.case_id, n, can_conflict=r.can_conflict)
                 for n, r in by_name.items()}
        run = CaseRun(app, partition, offset, by_name, fates)
        self.runs[app.case_id] = run
        self._advance(run, now)
        return run

    def due(self, now: float) -> list[tuple[CaseRun, Reaction]]:
        """Pop every answer due at ``now``."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            _, _, case_id, name = heapq.heappop(self._heap)
            run = self.runs.get(case_id)
            if run is not None:
                out.append((run, run.reactions[name]))
        return out

    def published(self, run: CaseRun, name: str, now: float) -> None:
        """``name`` is out: schedule what waited for it."""
        run.published.add(name)
        self._advance(run, now)

    def forget(self, case_id: str) -> None:
        """Drop a settled (or revoked) application."""
        self.runs.pop(case_id, None)

    def next_due_in(self, now: float) -> float | None:
        """Seconds until the next answer is due (``None``: nothing pending)."""
        return max(0.0, self._heap[0][0] - now) if self._heap else None

    def _advance(self, run: CaseRun, now: float) -> None:
        changed = True
        while changed:
            changed = False
            for name, reaction in run.reactions.items():
                if name in run.scheduled or name in run.lost:
                    continue
                if any(dep in run.lost for dep in reaction.after) or (
                    run.fates[name].lost and all(d in run.published for d in reaction.after)
                ):
                    run.lost.add(name)
                    changed = True
                elif all(dep in run.published for dep in reaction.after):
                    run.scheduled.add(name)
                    due = now + run.fates[name].delay_seconds
                    heapq.heappush(self._heap, (due, next(self._seq), run.app.case_id, name))


class OffsetTracker:
    """Per partition, the next offset that may be committed: below every unsettled one."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, int], set[int]] = {}
        self._next: dict[tuple[str, int], int] = {}

    def seen(self, partition: tuple[str, int], offset: int) -> None:
        """An application at ``offset`` was read and is being answered."""
        self._open.setdefault(partition, set()).add(offset)
        self._next[partition] = max(self._next.get(partition, 0), offset + 1)

    def settled(self, partition: tuple[str, int], offset: int) -> None:
        """The application at ``offset`` needs nothing more."""
        self._open.get(partition, set()).discard(offset)

    def skipped(self, partition: tuple[str, int], offset: int) -> None:
        """A message needing no answer (a duplicate, another event type)."""
        self.seen(partition, offset)
        self.settled(partition, offset)

    def committable(self) -> dict[tuple[str, int], int]:
        """Next offset to commit per partition."""
        return {tp: min(self._open.get(tp) or {nxt}) for tp, nxt in self._next.items()}

    def revoke(self, partition: tuple[str, int]) -> None:
        """Forget a partition this process no longer owns."""
        self._open.pop(partition, None)
        self._next.pop(partition, None)
