"""``exchange worker``: run the join worker until stopped (SIGTERM/SIGINT stop it cleanly)."""

from __future__ import annotations

import click


@click.command("worker")
@click.option("--loglevel", default="warning", show_default=True, help="Log level of the worker.")
def worker_command(loglevel: str) -> None:
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
    app = create_app(settings, registry)
    run(app, loglevel)
