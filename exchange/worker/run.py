"""``exchange worker``: run the join worker until stopped (SIGTERM/SIGINT stop it cleanly)."""

from __future__ import annotations

import click

from exchange.topics import RECORD_KINDS


@click.command("worker")
@click.option("--loglevel", default="warning", show_default=True, help="Log level of the worker.")
@click.option("--join", "joins", multiple=True, type=click.Choice(RECORD_KINDS),
              help="Run only this join (repeatable; default: both). One process per join "
                   "uses a second core: each is a consumer group of its own, sharing the "
                   "tables' changelogs; give each its own EXCHANGE_WORKER_METRICS_PORT.")
def worker_command(loglevel: str, joins: tuple[str, ...]) -> None:
    """Join department facts into unified enterprise and property records."""
    from prometheus_client import start_http_server

    from exchange.schemas import default_registry
    from exchange.settings import load_settings
    from exchange.topics import ensure_worker_topics
    from exchange.worker.app import create_app, run

    settings = load_settings()
    registry = default_registry(settings)
    ensure_worker_topics(settings, registry)
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.metrics_addr)
    app = create_app(settings, registry, joins=joins)
    run(app, loglevel)
