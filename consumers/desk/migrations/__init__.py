"""Alembic migrations of the desk database (run with ``exchange desk migrate``)."""
