"""Deadlines: a warning before each (预警), an escalation or deemed approval at it (督办).

The warning comes when ``1 - lead`` of the limit has passed in office time (default lead
20 %: a 2-hour step warns after 1 h 36 min). At the deadline a step configured for deemed
approval (视为同意) is approved; every other deadline escalates. A deadline first looked at
after it passed escalates without a late warning: the supervisor needs one alert, not two.
All thresholds compare ``now >= threshold``, so a scheduler woken at :meth:`Deadline.next_at`
always finds something to fire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from consumers.desk.domain.limits import TimeLimit
from consumers.desk.domain.workdays import DEFAULT_CALENDAR, OfficialCalendar


class Action(StrEnum):
    """What a passed threshold asks for."""

    WARN = "warn"
    ESCALATE = "escalate"
    DEEM = "deem"


@dataclass(frozen=True, slots=True)
class WarningPolicy:
    """How long before a deadline the warning comes, as a fraction of the limit."""

    lead: Decimal = Decimal("0.2")

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.lead < Decimal(1):
            raise ValueError(f"warning lead must be in [0, 1), got {self.lead}")


DEFAULT_POLICY = WarningPolicy()


@dataclass(frozen=True, slots=True)
class DeskConfig:
    """The clock of a desk: its calendar and office hours, and when warnings come."""

    calendar: OfficialCalendar = field(default_factory=lambda: DEFAULT_CALENDAR)
    warnings: WarningPolicy = DEFAULT_POLICY


DEFAULT_CONFIG = DeskConfig()
"""The default desk: official calendar, default office hours, 20 % warning lead."""


COMPLAINT_LEVELS = (("5wd", TimeLimit.working_days(5)), ("30wd", TimeLimit.working_days(30)))
"""Complaints escalate after 5 and again after 30 working days (督办)."""


def schedule(
    calendar: OfficialCalendar,
    start: datetime,
    limit: TimeLimit,
    policy: WarningPolicy = DEFAULT_POLICY,
) -> tuple[datetime | None, datetime]:
    """``(warn_at, due_at)`` of a limit started at ``start``; no warning when lead is 0."""
    office = calendar.office_time(limit)
    due_at = calendar.add_working_time(start, office)
    if policy.lead == 0:
        return None, due_at
    warn_at = calendar.add_working_time(start, office * float(Decimal(1) - policy.lead))
    return (warn_at if warn_at < due_at else None), due_at


@dataclass(slots=True)
class Deadline:
    """A running deadline of a case; ``met`` once its subject is done."""

    subject: str
    warn_at: datetime | None
    due_at: datetime
    deemed_approval: bool = False
    met: bool = False
    warned: bool = False
    fired: bool = False

    def actions(self, now: datetime) -> list[Action]:
        """Actions due at ``now`` that have not been taken, in order."""
        if self.met or self.fired:
            return []
        if now >= self.due_at:
            return [Action.DEEM if self.deemed_approval else Action.ESCALATE]
        if self.warn_at is not None and not self.warned and now >= self.warn_at:
            return [Action.WARN]
        return []

    def next_at(self) -> datetime | None:
        """The next threshold still to act on, or ``None`` if nothing is left."""
        if self.met or self.fired:
            return None
        if self.warn_at is not None and not self.warned:
            return self.warn_at
        return self.due_at
