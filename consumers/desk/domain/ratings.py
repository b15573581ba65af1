"""Ratings (好差评): one per closed case, on a 1-5 scale or as good/bad.

A score of 3-5 (非常满意, 满意, 基本满意) counts as good, 1-2 (不满意, 非常不满意) as bad,
which is how the active rating rate and the good-rating share are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from consumers.desk.domain.case import Case
from consumers.desk.domain.errors import CaseStateError, InvalidForm
from consumers.desk.domain.events import CaseEvent, Kind

Verdict = Literal["good", "bad"]


@dataclass(frozen=True, slots=True)
class Rating:
    """A rating: ``score`` when given on the 1-5 scale, ``verdict`` always."""

    verdict: Verdict
    score: int | None = None
    comment: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, kept in the ``rated`` entry."""
        return {"verdict": self.verdict, "score": self.score, "comment": self.comment}


def parse_rating(value: Any, comment: str = "") -> Rating:
    """``1``-``5``, ``"good"`` or ``"bad"``; raises :class:`InvalidForm` on field ``rating``."""
    if isinstance(value, bool):
        raise InvalidForm("rating", "must be 1-5, 'good' or 'bad'")
    if isinstance(value, int):
        if not 1 <= value <= 5:
            raise InvalidForm("rating", f"score must be between 1 and 5, got {value}")
        return Rating("good" if value >= 3 else "bad", value, comment)
    if value in ("good", "bad"):
        return Rating(value, None, comment)
    raise InvalidForm("rating", f"must be 1-5, 'good' or 'bad', got {value!r}")


def rate(case: Case, value: Any, now: datetime, comment: str = "") -> list[CaseEvent]:
    """Rate a closed case, once; raises :class:`CaseStateError` if open or already rated."""
    rating = parse_rating(value, comment)
    if case.status != "completed":
        raise CaseStateError(f"case {case.case_id} is still open: only a closed case is rated")
    if case.rating is not None:
        raise CaseStateError(f"case {case.case_id} is already rated")
    out: list[CaseEvent] = []
    case.record(CaseEvent(case.case_id, Kind.RATED, "case", now, now, rating.to_dict()), out)
    return out
