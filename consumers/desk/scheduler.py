"""Deadlines that fire on their own: warnings, escalations and deemed approvals.

Driven only by what is persisted: each case row carries ``next_deadline`` (refreshed with
every write), and a tick advances the cases whose ``next_deadline <= now`` with the clock
(and the case's stored record). That is what makes it restart-safe: a deadline missed while
the process was down is still in the table and fires at the first tick after the restart
(late, as escalations do, never lost); a deadline already fired is on the timeline under its
stable entry id, so firing it again adds nothing; a tick killed before its commit leaves the
row unchanged and the next tick does the work once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from consumers.desk.metrics import DeskMetrics
from consumers.desk.service import DeskService

log = logging.getLogger(__name__)


@dataclass
class DeadlineScheduler:
    """Fires due deadlines through the service; the clock is the service's (injectable)."""

    service: DeskService
    metrics: DeskMetrics | None = None
    interval_seconds: float = 15.0
    batch: int = 500

    def tick(self) -> int:
        """Fire everything due now (in batches until none is left); returns entries added."""
        added = 0
        while True:
            fired = self.service.fire_due(limit=self.batch)
            added += fired
            if fired == 0 or not self._more_due():
                break
        if self.metrics is not None:
            self.metrics.set_queue(self.service.queue_counts())
        return added

    def _more_due(self) -> bool:
        now = self.service.clock()
        with self.service.uow() as uow:
            return bool(uow.cases.due(now, 1))

    def run(self, stop: threading.Event) -> None:
        """Tick every ``interval_seconds`` until ``stop`` is set (a failed tick is retried)."""
        while not stop.is_set():
            try:
                added = self.tick()
                if added:
                    log.info("desk scheduler: %d timeline entries from deadlines", added)
            except Exception:  # keep the desk's clock running; the next tick retries
                log.exception("desk scheduler: tick failed")
            stop.wait(self.interval_seconds)
