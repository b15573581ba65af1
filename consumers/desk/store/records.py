"""The desk's copy of unified records and the offsets it has consumed, per unit of work.

Both are written in the same transaction as the case entries a record causes: the record,
the effects and the next offset commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.desk.domain.records import Record, field_value
from consumers.desk.store.models import OffsetRow, RecordRow


class RecordRepository:
    """Latest unified record per (kind, key)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        """The stored record, or ``None``."""
        row = self.session.get(RecordRow, (kind, key))
        return None if row is None else dict(row.record)

    def by_name(self, name: str) -> dict[str, Any] | None:
        """The latest-stored enterprise record whose resolved ``name`` is ``name``."""
        row = self.session.scalars(
            select(RecordRow)
            .where(RecordRow.kind == "enterprise", RecordRow.name == name)
            .order_by(RecordRow.stored_at.desc())
            .limit(1)
        ).one_or_none()
        return None if row is None else dict(row.record)

    def put(self, record: Record, topic: str, partition: int, offset: int, now: datetime) -> None:
        """Store ``record`` as the latest of its key (a compacted topic: last offset wins)."""
        kind, key = str(record["kind"]), str(record["key"])
        name, _ = field_value(record, "name")
        row = self.session.get(RecordRow, (kind, key))
        if row is None:
            row = RecordRow(kind=kind, key=key)
            self.session.add(row)
        row.name = name if isinstance(name, str) else None
        row.record = dict(record)
        row.topic, row.partition, row.offset, row.stored_at = topic, partition, offset, now


class OffsetRepository:
    """Next offset to consume per (group, topic, partition)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, group: str, topic: str, partition: int) -> int | None:
        """The stored next offset, or ``None`` if the partition was never consumed."""
        row = self.session.get(OffsetRow, (group, topic, partition))
        return None if row is None else row.next_offset

    def all(self, group: str) -> dict[tuple[str, int], int]:
        """Every stored position of ``group``."""
        rows = self.session.scalars(select(OffsetRow).where(OffsetRow.group_id == group))
        return {(r.topic, r.partition): r.next_offset for r in rows}

    def put(self, group: str, topic: str, partition: int, next_offset: int) -> None:
        """Record that everything before ``next_offset`` is done."""
        row = self.session.get(OffsetRow, (group, topic, partition))
        if row is None:
            self.session.add(
                OffsetRow(group_id=group, topic=topic, partition=partition, next_offset=next_offset)
            )
        else:
            row.next_offset = next_offset
