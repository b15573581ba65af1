"""Alembic environment: the URL comes from the caller's config or else from the settings."""

from __future__ import annotations

from alembic import context

from consumers.desk.store.db import database_url, make_engine
from consumers.desk.store.models import Base
from exchange.settings import load_settings

config = context.config
url = config.get_main_option("sqlalchemy.url") or database_url(load_settings())


def run_offline() -> None:
    """Emit SQL for ``url`` without connecting."""
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Apply migrations through a connection (one given by the caller, or a new engine)."""
    given = config.attributes.get("connection")
    if given is not None:
        context.configure(connection=given, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
