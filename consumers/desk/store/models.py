"""Tables of the desk (SQLAlchemy 2 typed mappings); the migrations create exactly these.

The timeline is the truth about a case: ``desk_cases`` holds the form and the columns the
queue and the scheduler query (status, key, deadlines), refreshed from the restored case on
every write. ``desk_timeline.event_id`` is unique (the domain's stable entry id), which is
what makes a redelivered record or a re-fired deadline add nothing; ``seq`` is the order in
which entries were recorded, the order :func:`restore` needs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware instant, stored in UTC (SQLite keeps no zone: naive values read back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with deterministic constraint names (stable migrations)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class CaseRow(Base):
    """One case: its form and the columns the queue and the scheduler query."""

    __tablename__ = "desk_cases"

    case_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_type: Mapped[str] = mapped_column(String(32))
    profile: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)
    key: Mapped[str | None] = mapped_column(String(32), index=True)
    pending_name: Mapped[str | None] = mapped_column(String(200), index=True)
    form: Mapped[dict[str, Any]]
    submitted_by: Mapped[str] = mapped_column(String(100))
    accepted_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    case_warn_at: Mapped[datetime | None]
    case_due_at: Mapped[datetime]
    next_deadline: Mapped[datetime | None] = mapped_column(index=True)
    steps_done: Mapped[int] = mapped_column(Integer)
    steps_total: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_desk_cases_status_type", "status", "case_type"),)


class TimelineRow(Base):
    """One timeline entry; ``seq`` numbers a case's entries in recorded order."""

    __tablename__ = "desk_timeline"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("desk_cases.case_id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]

    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_desk_timeline_case_seq"),)


class NoticeRow(Base):
    """A notice the window handed out (acceptance, completion, utilities transfer)."""

    __tablename__ = "desk_notices"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("desk_cases.case_id"), index=True)
    notice: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime]
    body: Mapped[dict[str, Any]]


class RatingRow(Base):
    """The rating (好差评) of a closed case: at most one."""

    __tablename__ = "desk_ratings"

    case_id: Mapped[str] = mapped_column(ForeignKey("desk_cases.case_id"), primary_key=True)
    verdict: Mapped[str] = mapped_column(String(8))
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text)
    rated_by: Mapped[str] = mapped_column(String(100))
    rated_at: Mapped[datetime]


class RecordRow(Base):
    """The latest unified record of a key, and where on the bus it was read."""

    __tablename__ = "desk_records"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200), index=True)  # for pending-name cases
    record: Mapped[dict[str, Any]]
    topic: Mapped[str] = mapped_column(String(200))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    stored_at: Mapped[datetime]


class OffsetRow(Base):
    """The next offset to read per group and partition: committed with the effects."""

    __tablename__ = "desk_offsets"

    group_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    topic: Mapped[str] = mapped_column(String(200), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger)


class AuditRow(Base):
    """One audit entry (全程留痕); ``hash`` chains it to the entry before."""

    __tablename__ = "desk_audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str] = mapped_column(String(32))
    target_key: Mapped[str] = mapped_column(String(200), index=True)
    detail: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)  # one successor: no fork
    hash: Mapped[str] = mapped_column(String(64), unique=True)
