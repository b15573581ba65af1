"""The unit of work: one session, one transaction, the repositories that share it.

An effect (case entries, a stored record) and the consumed offset are written through the
same unit, so they commit together: ``with UnitOfWork(factory) as uow: ...; uow.commit()``.
Leaving the block without a commit rolls back.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from consumers.desk.store.cases import CaseRepository
from consumers.desk.store.records import OffsetRepository, RecordRepository


class UnitOfWork:
    """A transaction over the desk tables."""

    session: Session
    cases: CaseRepository
    records: RecordRepository
    offsets: OffsetRepository

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self.cases = CaseRepository(self.session)
        self.records = RecordRepository(self.session)
        self.offsets = OffsetRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.close()  # rolls back what was not committed; loaded values stay readable

    def commit(self) -> None:
        """Commit everything written through this unit."""
        self.session.commit()

    def rollback(self) -> None:
        """Discard everything written through this unit."""
        self.session.rollback()
