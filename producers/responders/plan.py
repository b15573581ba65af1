"""A case's department answers: which department publishes which events, after what.

A :class:`Reaction` builds its events when it fires, with an :class:`~producers.sim_context.
Emitter` seeded by the seed, the case id and the reaction's name: the same application
always gives the same event ids and values, whenever and however often it is answered, so a
redelivered application republishes identical events that the merge core ignores.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from producers.responders.application import Application
from producers.sim_context import Emitter

Built = list[tuple[str, dict[str, Any]]]
Build = Callable[[Emitter, datetime, bool], None]  # (emitter, at, conflict): calls em.emit


@dataclass(frozen=True, slots=True)
class Reaction:
    """One department's answer to a case: events built at ``at`` once ``after`` are out."""

    name: str
    department: str
    build: Build
    after: tuple[str, ...] = ()
    can_conflict: bool = False

    def events(self, seed: int, case_id: str, at: datetime, conflict: bool) -> Built:
        """The answer's events (type and record, envelope included)."""
        em = Emitter(random.Random(f"{seed}:{case_id}:{self.name}"))
        self.build(em, at, conflict)
        for event_type, _ in em.events:
            if event_type.split(".", 1)[0] != self.department:
                raise AssertionError(f"{self.name} built a {event_type} for {self.department}")
        return em.events


def plan(app: Application, seed: int) -> list[Reaction]:
    """Every department answer to ``app`` (empty for what no department here handles)."""
    from producers.responders import deregistration, startup, transfer

    planners: dict[str, Callable[[Application, int], list[Reaction]]] = {
        "startup": startup.plan,
        "transfer": transfer.plan,
        "deregistration": deregistration.plan,
    }
    planner = planners.get(app.case_type)
    return planner(app, seed) if planner is not None else []
