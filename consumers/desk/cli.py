"""``exchange desk``: run the desk (consumer and deadline scheduler), or migrate its database.

exchange desk                   migrate, then consume unified records and fire deadlines
exchange desk --no-consumer     only the scheduler (e.g. a second process for deadlines)
exchange desk --once            one poll and one tick, then exit (scripts, smoke tests)
exchange desk --web --port N    the same, and the web page and API (uvicorn) on 127.0.0.1:N
exchange desk migrate           alembic upgrade head on EXCHANGE_DATABASE_URL (or SQLite)
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from typing import Any

import click
from prometheus_client import CollectorRegistry, start_http_server
from sqlalchemy import Engine

from consumers.desk.metrics import DeskMetrics
from consumers.desk.scheduler import DeadlineScheduler
from consumers.desk.service import DeskService
from consumers.desk.store.db import database_url, make_engine, make_session_factory
from consumers.desk.store.migrate import upgrade
from exchange.settings import Settings, load_settings

log = logging.getLogger(__name__)


@dataclass
class Desk:
    """A desk's parts, built from settings (the web page uses the same service)."""

    settings: Settings
    engine: Engine
    service: DeskService
    metrics: DeskMetrics
    registry: CollectorRegistry


def build_desk(
    settings: Settings, registry: CollectorRegistry | None = None, **service: Any
) -> Desk:
    """Engine, service and metrics for ``settings`` (extra keywords go to the service)."""
    registry = registry or CollectorRegistry()
    metrics = DeskMetrics.create(registry)
    engine = make_engine(database_url(settings))
    desk_service = DeskService(make_session_factory(engine), metrics=metrics, **service)
    return Desk(settings, engine, desk_service, metrics, registry)


def _threads(
    desk: Desk, consumer: bool, scheduler: bool, stop: threading.Event
) -> list[threading.Thread]:
    threads = []
    if consumer:
        from consumers.desk.consumer import DeskConsumer

        kafka = DeskConsumer(
            desk.service,
            desk.settings.kafka_client_options(),
            group=desk.settings.desk_group,
            metrics=desk.metrics,
        )

        def consume() -> None:
            try:
                kafka.run(stop)
            finally:
                kafka.close()

        threads.append(threading.Thread(target=consume, name="desk-consumer", daemon=True))
    if scheduler:
        ticker = DeadlineScheduler(desk.service, desk.metrics, desk.settings.desk_tick_seconds)
        threads.append(
            threading.Thread(target=ticker.run, args=(stop,), name="desk-scheduler", daemon=True)
        )
    return threads


@click.group(invoke_without_command=True)
@click.option(
    "--consumer/--no-consumer",
    default=True,
    show_default=True,
    help="Consume unified records and advance cases.",
)
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    show_default=True,
    help="Fire deadlines (warnings, escalations, deemed approvals).",
)
@click.option("--once", is_flag=True, help="One poll and one scheduler tick, then exit.")
@click.option("--web", is_flag=True, help="Also serve the web page and API (uvicorn).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the web page.")
@click.option("--port", default=8080, show_default=True, help="Port of the web page.")
@click.option("--refresh-seconds", default=5, show_default=True,
              help="How often the case and queue pages reload themselves.")
@click.option("--publish/--no-publish", default=True, show_default=True,
              help="Publish each accepted form once on the desk topic (collect once, fan out).")
@click.pass_context
def desk_command(ctx: click.Context, consumer: bool, scheduler: bool, once: bool, web: bool,
                 host: str, port: int, refresh_seconds: int, publish: bool) -> None:
    """Registration desks: cases driven by the unified records, with deadlines."""
    if ctx.invoked_subcommand is not None:
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = load_settings()
    upgrade(database_url(settings))
    sink = None
    if publish and (web or not once):
        from consumers.desk.fanout import ApplicationPublisher

        sink = ApplicationPublisher(settings)
    desk = build_desk(settings, application_sink=sink)
    if once:
        if consumer:
            from consumers.desk.consumer import DeskConsumer

            kafka = DeskConsumer(
                desk.service,
                settings.kafka_client_options(),
                group=settings.desk_group,
                metrics=desk.metrics,
            )
            try:
                click.echo(f"records: {kafka.poll_once(timeout_ms=5000)}")
            finally:
                kafka.close()
        if scheduler:
            click.echo(f"deadline entries: {DeadlineScheduler(desk.service, desk.metrics).tick()}")
        return
    if settings.desk_metrics_port:
        start_http_server(settings.desk_metrics_port, settings.metrics_addr, registry=desk.registry)
    stop = threading.Event()
    threads = _threads(desk, consumer, scheduler, stop)
    for thread in threads:
        thread.start()
    names = ", ".join([t.name for t in threads] + ([f"web on {host}:{port}"] if web else []))
    click.echo(f"desk running ({names or 'nothing'}); Ctrl-C stops")
    # uvicorn captures SIGINT/SIGTERM while serving and re-raises them once it has shut
    # down: with these handlers in place that ends here too, and the finally block runs.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if web:
            from consumers.desk.web.server import serve

            serve(desk.service, settings, host, port, refresh_seconds=refresh_seconds)
        else:
            stop.wait()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        if sink is not None:
            sink.close()
        desk.engine.dispose()
        click.echo("desk stopped")


@desk_command.command("migrate")
def migrate_command() -> None:
    """Bring the desk database to the newest schema (alembic upgrade head)."""
    url = database_url(load_settings())
    upgrade(url)
    click.echo(f"desk database at head: {url.split('@')[-1]}")
