"""Alembic revisions of the desk database."""
