"""The desk's audit log (全程留痕): rows of ``desk_audit_log`` chained by hashes.

The chain itself (hashing, verification naming each tampered entry) is :mod:`exchange.audit`,
shared with the ``exchange.audit.v1`` topic; this module maps table rows to it. The hash covers
every column but the id and the hashes, instants as ISO 8601 in UTC. ``prev_hash`` is unique:
two writers appending at once cannot fork the chain (one fails its insert and retries on the
new tail).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.desk.store.models import AuditRow
from exchange.audit import GENESIS, Link, canonical, chain_hash, first_problems
from exchange.audit import verify as verify_chain

__all__ = ["GENESIS", "append", "canonical", "chain_hash", "content", "verify"]


def content(row: AuditRow) -> dict[str, Any]:
    """What the hash covers: every column but the id and the hashes."""
    return {
        "at": row.at.astimezone(UTC).isoformat(),
        "actor": row.actor,
        "role": row.role,
        "action": row.action,
        "target_kind": row.target_kind,
        "target_key": row.target_key,
        "detail": row.detail,
    }


def append(
    session: Session,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    target_kind: str,
    target_key: str,
    detail: Mapping[str, Any],
) -> AuditRow:
    """Add an entry after the current tail (flushed; the caller commits)."""
    tail = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(1)).one_or_none()
    prev = tail.hash if tail is not None else GENESIS
    detail_json = json.loads(canonical(detail))  # what the database gives back later
    row = AuditRow(
        at=at.astimezone(UTC),
        actor=actor,
        role=role,
        action=action,
        target_kind=target_kind,
        target_key=target_key,
        detail=detail_json,
        prev_hash=prev,
        hash="",
    )
    row.hash = chain_hash(prev, content(row))
    session.add(row)
    session.flush()
    return row


def verify(session: Session, batch: int = 1000) -> list[str]:
    """Problems of the chain in chain order, each naming its entry id; empty when intact.

    Rows are read in id order, ``batch`` at a time, and checked by :func:`exchange.audit.verify`
    (which needs every hash at once to tell a deletion from a reordering).
    """
    links: list[Link] = []
    last_id = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditRow).where(AuditRow.id > last_id).order_by(AuditRow.id).limit(batch)
            )
        )
        if not rows:
            return first_problems(verify_chain(links))
        links.extend(Link(str(r.id), r.prev_hash, r.hash, content(r)) for r in rows)
        last_id = rows[-1].id
