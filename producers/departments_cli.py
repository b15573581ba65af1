"""``exchange departments``: the department systems answering the desks' applications.

exchange departments                         answer after 1 s each, nothing late or lost
exchange departments --delay 5 --jitter 10 --late-rate 0.1 --loss-rate 0.05 --conflict-rate 0.1
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading

import click

from producers.departments import DEFAULT_GROUP, DepartmentSystems
from producers.responders.config import ResponderConfig


@click.command("departments")
@click.option("--seed", default=0, show_default=True, help="Seed of every random choice.")
@click.option("--delay", "delay_seconds", default=1.0, show_default=True,
              help="Seconds a department takes to answer once it can.")
@click.option("--jitter", "jitter_seconds", default=0.0, show_default=True,
              help="Up to this many seconds more, uniformly drawn.")
@click.option("--late-rate", default=0.0, show_default=True,
              help="Probability that an answer comes late.")
@click.option("--late-delay", "late_delay_seconds", default=60.0, show_default=True,
              help="Seconds a late answer adds.")
@click.option("--loss-rate", default=0.0, show_default=True,
              help="Probability that a department never answers.")
@click.option("--conflict-rate", default=0.0, show_default=True,
              help="Probability that a tax or social answer carries a conflicting value.")
@click.option("--group", default=DEFAULT_GROUP, show_default=True,
              help="Consumer group on the desks' application topic.")
def departments_command(group: str, **options: float) -> None:
    """Answer the desks' applications like the departments would (collect once, fan out)."""
    from exchange.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # our answers, not the client's chatter
    try:
        config = ResponderConfig(**options)  # type: ignore[arg-type]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    systems = DepartmentSystems(load_settings(), config, group=group)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    settings = ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(config).items())
    click.echo(f"departments answering {systems.topic} ({settings}); Ctrl-C stops", err=True)
    try:
        systems.run(stop)
    finally:
        systems.close()
        click.echo(f"departments stopped: {systems.published_total} events published, "
                   f"{systems.pending()} applications still pending", err=True)
