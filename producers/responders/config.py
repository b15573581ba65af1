"""How the simulated departments answer: delays and the odds of late, missing or conflicting
answers, all drawn from a seed so that a run can be repeated exactly."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Fate:
    """What happens to one department answer: after how long, and how."""

    delay_seconds: float
    late: bool = False
    lost: bool = False  # the department never answers (deadlines, deemed approval)
    conflict: bool = False  # the answer carries a value that contradicts the form/licence


@dataclass(frozen=True, slots=True)
class ResponderConfig:
    """Seeded behaviour of every department responder.

    ``delay_seconds`` plus a uniform ``jitter_seconds`` is the normal time to answer once the
    answer may be given (after the application, or after the facts it waits for);
    ``late_rate`` of the answers take ``late_delay_seconds`` more; ``loss_rate`` never come
    (nor does anything that waits for them); ``conflict_rate`` of the answers that can
    disagree (tax and social registration) carry a differently typed name or address.
    All rates are probabilities in [0, 1]; 0 everywhere gives a deterministic run.
    """

    seed: int = 0
    delay_seconds: float = 1.0
    jitter_seconds: float = 0.0
    late_rate: float = 0.0
    late_delay_seconds: float = 60.0
    loss_rate: float = 0.0
    conflict_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("late_rate", "loss_rate", "conflict_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")
        for name in ("delay_seconds", "jitter_seconds", "late_delay_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")

    def fate(self, case_id: str, reaction: str, *, can_conflict: bool = False) -> Fate:
        """The fate of ``reaction`` of case ``case_id``: the same for the same seed."""
        rng = random.Random(f"{self.seed}:{case_id}:{reaction}:fate")
        delay = self.delay_seconds + rng.random() * self.jitter_seconds
        lost = rng.random() < self.loss_rate
        late = rng.random() < self.late_rate
        conflict = can_conflict and rng.random() < self.conflict_rate
        if late:
            delay += self.late_delay_seconds
        return Fate(delay, late=late, lost=lost, conflict=conflict)
