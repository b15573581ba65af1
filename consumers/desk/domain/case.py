"""A case's state, folded from its timeline (``apply(event)``), eventsourcing style.

The timeline is the truth: persistence stores the form and the timeline entries and rebuilds
a case with :func:`consumers.desk.domain.handlers.restore`. Recording an entry whose id is
already on the timeline changes nothing, which is what makes ``advance`` idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from consumers.desk.domain.deadlines import Deadline
from consumers.desk.domain.events import CaseEvent, Kind
from consumers.desk.domain.forms import Form
from consumers.desk.domain.steps import CasePlan

StepStatus = Literal["waiting", "started", "held", "completed", "deemed_approved"]
ItemStatus = Literal["missing", "promised", "supplied"]


@dataclass(slots=True)
class StepState:
    """Where one step stands; ``done_at`` is the source fact's time or the deemed deadline."""

    name: str
    status: StepStatus = "waiting"
    started_at: datetime | None = None
    done_at: datetime | None = None
    source: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        """Completed by a fact or deemed approved."""
        return self.status in ("completed", "deemed_approved")


@dataclass(slots=True)
class Case:
    """An application at the one window and everything that happened to it."""

    case_id: str
    form: Form
    plan: CasePlan
    accepted_at: datetime
    key: str | None
    status: Literal["open", "completed"] = "open"
    completed_at: datetime | None = None
    steps: dict[str, StepState] = field(default_factory=dict)
    items: dict[str, ItemStatus] = field(default_factory=dict)
    deadlines: dict[str, Deadline] = field(default_factory=dict)
    complaints: dict[str, bool] = field(default_factory=dict)  # id -> resolved
    rating: dict[str, Any] | None = None
    timeline: list[CaseEvent] = field(default_factory=list)
    _ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for spec in self.plan.steps:
            self.steps.setdefault(spec.name, StepState(spec.name))

    @property
    def case_type(self) -> str:
        """``startup``, ``transfer`` or ``deregistration``."""
        return self.plan.case_type

    def has(self, kind: Kind, subject: str) -> bool:
        """Whether the timeline holds the entry ``kind``/``subject``."""
        return f"{self.case_id}/{kind.value}/{subject}" in self._ids

    def record(self, event: CaseEvent, out: list[CaseEvent]) -> None:
        """Append ``event`` (and to ``out``) unless its id is already on the timeline."""
        if event.event_id in self._ids:
            return
        self.apply(event)
        out.append(event)

    def apply(self, event: CaseEvent) -> None:
        """Fold one entry into the state (used by :meth:`record` and when restoring)."""
        if event.event_id in self._ids:
            return
        self._ids.add(event.event_id)
        self.timeline.append(event)
        data, subject = event.data, event.subject
        if event.kind in (
            Kind.CASE_ACCEPTED,
            Kind.STEP_STARTED,
            Kind.ITEM_MISSING,
            Kind.COMPLAINT_FILED,
        ):
            for deadline in data.get("deadlines", ()):
                self.deadlines[deadline["subject"]] = Deadline(
                    subject=deadline["subject"],
                    warn_at=_instant(deadline.get("warn_at")),
                    due_at=_required(deadline["due_at"]),
                    deemed_approval=bool(deadline.get("deemed_approval", False)),
                )
        if event.kind == Kind.STEP_STARTED:
            step = self.steps[subject]
            step.started_at = event.at
            if not step.done:
                step.status = "started"
        elif event.kind == Kind.STEP_HELD:
            if not self.steps[subject].done:
                self.steps[subject].status = "held"
        elif event.kind in (Kind.STEP_COMPLETED, Kind.DEEMED_APPROVED):
            step = self.steps[subject]
            if not step.done or event.kind == Kind.STEP_COMPLETED:
                step.status = (
                    "completed" if event.kind == Kind.STEP_COMPLETED else "deemed_approved"
                )
                step.done_at = step.done_at or event.at
                step.source = data.get("source") or step.source
            self._meet(f"step:{subject}")
            if event.kind == Kind.DEEMED_APPROVED:
                self.deadlines[f"step:{subject}"].fired = True
        elif event.kind == Kind.ITEM_MISSING:
            self.items[subject] = "missing"
        elif event.kind == Kind.PROMISE_ACCEPTED:
            self.items[subject] = "promised"
        elif event.kind == Kind.ITEM_SUPPLIED:
            self.items[subject] = "supplied"
            self._meet(f"item:{subject}")
        elif event.kind == Kind.KEY_ASSIGNED:
            self.key = str(data["key"])
        elif event.kind == Kind.WARNING_RAISED:
            self.deadlines[subject].warned = True
        elif event.kind in (Kind.ESCALATED, Kind.COMPLAINT_ESCALATED):
            self.deadlines[subject].fired = True
        elif event.kind == Kind.CASE_COMPLETED:
            self.status, self.completed_at = "completed", event.at
            self._meet("case")
        elif event.kind == Kind.COMPLAINT_FILED:
            self.complaints[subject] = False
        elif event.kind == Kind.COMPLAINT_RESOLVED:
            self.complaints[subject] = True
            for name, deadline in self.deadlines.items():
                if name.startswith(f"complaint:{subject}:"):
                    deadline.met = True
        elif event.kind == Kind.RATED:
            self.rating = dict(data)

    def _meet(self, subject: str) -> None:
        if subject in self.deadlines:
            self.deadlines[subject].met = True


def _instant(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _required(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))
