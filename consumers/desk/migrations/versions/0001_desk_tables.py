"""Desk tables: cases, timeline, notices, ratings, unified records, offsets, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Written out by hand (no import of the models): a migration is frozen once released.
Instants are ``timestamp with time zone`` (UTC; SQLite stores them naive in UTC).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

INSTANT = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrement: INTEGER


def upgrade() -> None:
    """Create the desk tables."""
    op.create_table(
        "desk_cases",
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("case_type", sa.String(32), nullable=False),
        sa.Column("profile", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("key", sa.String(32), nullable=True),
        sa.Column("pending_name", sa.String(200), nullable=True),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("submitted_by", sa.String(100), nullable=False),
        sa.Column("accepted_at", INSTANT, nullable=False),
        sa.Column("completed_at", INSTANT, nullable=True),
        sa.Column("case_warn_at", INSTANT, nullable=True),
        sa.Column("case_due_at", INSTANT, nullable=False),
        sa.Column("next_deadline", INSTANT, nullable=True),
        sa.Column("steps_done", sa.Integer(), nullable=False),
        sa.Column("steps_total", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_desk_cases"),
    )
    op.create_index("ix_desk_cases_key", "desk_cases", ["key"])
    op.create_index("ix_desk_cases_next_deadline", "desk_cases", ["next_deadline"])
    op.create_index("ix_desk_cases_pending_name", "desk_cases", ["pending_name"])
    op.create_index("ix_desk_cases_status", "desk_cases", ["status"])
    op.create_index("ix_desk_cases_status_type", "desk_cases", ["status", "case_type"])

    op.create_table(
        "desk_timeline",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.Column("recorded_at", INSTANT, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["desk_cases.case_id"], name="fk_desk_timeline_case_id_desk_cases"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_desk_timeline"),
        sa.UniqueConstraint("case_id", "seq", name="uq_desk_timeline_case_seq"),
        sa.UniqueConstraint("event_id", name="uq_desk_timeline_event_id"),
    )
    op.create_index("ix_desk_timeline_case_id", "desk_timeline", ["case_id"])

    op.create_table(
        "desk_notices",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("notice", sa.String(32), nullable=False),
        sa.Column("issued_at", INSTANT, nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["desk_cases.case_id"], name="fk_desk_notices_case_id_desk_cases"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_desk_notices"),
        sa.UniqueConstraint("event_id", name="uq_desk_notices_event_id"),
    )
    op.create_index("ix_desk_notices_case_id", "desk_notices", ["case_id"])

    op.create_table(
        "desk_ratings",
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_by", sa.String(100), nullable=False),
        sa.Column("rated_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["desk_cases.case_id"], name="fk_desk_ratings_case_id_desk_cases"
        ),
        sa.PrimaryKeyConstraint("case_id", name="pk_desk_ratings"),
    )

    op.create_table(
        "desk_records",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("stored_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name="pk_desk_records"),
    )
    op.create_index("ix_desk_records_name", "desk_records", ["name"])

    op.create_table(
        "desk_offsets",
        sa.Column("group_id", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "topic", "partition", name="pk_desk_offsets"),
    )

    op.create_table(
        "desk_audit_log",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_kind", sa.String(32), nullable=False),
        sa.Column("target_key", sa.String(200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_desk_audit_log"),
        sa.UniqueConstraint("hash", name="uq_desk_audit_log_hash"),
        sa.UniqueConstraint("prev_hash", name="uq_desk_audit_log_prev_hash"),
    )
    op.create_index("ix_desk_audit_log_target_key", "desk_audit_log", ["target_key"])


def downgrade() -> None:
    """Drop the desk tables (children first)."""
    for table in (
        "desk_audit_log",
        "desk_offsets",
        "desk_records",
        "desk_ratings",
        "desk_notices",
        "desk_timeline",
        "desk_cases",
    ):
        op.drop_table(table)
