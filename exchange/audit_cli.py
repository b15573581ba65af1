"""``exchange audit verify``: check an audit chain, name every tampered entry, exit 1 if any.

Two stores: the desk database (``--db URL``; default: the desk's configured database) and the
audit topic (``--topic``, optionally naming another topic than ``exchange.audit.v1``).
"""

from __future__ import annotations

import click

from exchange.topics import AUDIT


def verify_db(url: str) -> list[str]:
    """Problems of the desk audit chain in the database at ``url``."""
    from consumers.desk.store import audit as desk_audit
    from consumers.desk.store.db import make_engine, make_session_factory

    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return desk_audit.verify(session)
    finally:
        engine.dispose()


@click.group("audit")
def audit_command() -> None:
    """The tamper-evident audit trail (全程留痕)."""


@audit_command.command("verify")
@click.option("--db", "db_url", default=None, help="SQLAlchemy URL of a desk database "
              "(default: the configured desk database).")
@click.option("--topic", "topic", is_flag=False, flag_value=AUDIT, default=None,
              help=f"Verify the chains on an audit topic instead (bare --topic: {AUDIT}).")
def verify_command(db_url: str | None, topic: str | None) -> None:
    """Re-walk the chain; print each edited, deleted, inserted or reordered entry."""
    from exchange.settings import load_settings

    if db_url is not None and topic is not None:
        raise click.UsageError("give --db or --topic, not both")
    settings = load_settings()
    if topic is not None:
        from exchange.audit_topic import verify_topic

        where, problems = f"topic {topic}", verify_topic(settings, topic)
    else:
        from consumers.desk.store.db import database_url

        url = db_url or database_url(settings)
        where, problems = "desk audit log", verify_db(url)
    for line in problems:
        click.echo(line)
    if problems:
        click.echo(f"{where}: {len(problems)} problem(s): the chain was tampered with", err=True)
        raise SystemExit(1)
    click.echo(f"{where}: chain intact")
