"""Time limits (办理时限) as the documents state them: immediate, minutes, hours, working days.

A limit is measured in office time (see :mod:`.workdays`): "2 hours" means two hours of
office time, "0.5 working day" half a day's office time. "Immediate" (即时办结: done while the
applicant waits) is given a short allowance, :data:`IMMEDIATE_ALLOWANCE`, so that the
department's fact can reach the bus before the step counts as late.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal

Unit = Literal["immediate", "minutes", "hours", "working_days"]

IMMEDIATE_ALLOWANCE = timedelta(minutes=15)
"""Office time an "immediate" step has for its fact to arrive before it is overdue."""

_SUFFIX: dict[str, Unit] = {"m": "minutes", "h": "hours", "wd": "working_days"}
_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(wd|h|m)\s*$")


@dataclass(frozen=True, slots=True)
class TimeLimit:
    """A time limit: ``amount`` of ``unit``; build with the class methods or :meth:`parse`."""

    unit: Unit
    amount: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError(f"a time limit must not be negative, got {self.amount}")
        if self.unit == "immediate" and self.amount != 0:
            raise ValueError("an immediate limit has no amount")

    @classmethod
    def immediate(cls) -> TimeLimit:
        """即时办结."""
        return cls("immediate")

    @classmethod
    def minutes(cls, amount: int | str | Decimal) -> TimeLimit:
        """Minutes of office time."""
        return cls("minutes", Decimal(amount))

    @classmethod
    def hours(cls, amount: int | str | Decimal) -> TimeLimit:
        """Hours of office time."""
        return cls("hours", Decimal(amount))

    @classmethod
    def working_days(cls, amount: int | str | Decimal) -> TimeLimit:
        """Working days (one working day = one day's office time)."""
        return cls("working_days", Decimal(amount))

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        """Parse ``immediate``, ``50m``, ``2h`` or ``0.5wd`` (the form :meth:`__str__` writes)."""
        if text.strip() == "immediate":
            return cls.immediate()
        match = _TEXT.match(text)
        if match is None:
            raise ValueError(
                f"time limit {text!r}: expected 'immediate', '<n>m', '<n>h' or '<n>wd'"
            )
        try:
            amount = Decimal(match.group(1))
        except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
            raise ValueError(f"time limit {text!r}: amount is not a number") from exc
        return cls(_SUFFIX[match.group(2)], amount)

    def __str__(self) -> str:
        if self.unit == "immediate":
            return "immediate"
        suffix = {v: k for k, v in _SUFFIX.items()}[self.unit]
        return f"{self.amount.normalize():f}{suffix}"

    def office_time(self, working_day: timedelta) -> timedelta:
        """The limit as office time, given the office time of one working day."""
        if self.unit == "immediate":
            return IMMEDIATE_ALLOWANCE
        if self.unit == "minutes":
            return timedelta(minutes=float(self.amount))
        if self.unit == "hours":
            return timedelta(hours=float(self.amount))
        return working_day * float(self.amount)
