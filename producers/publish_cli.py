"""``exchange publish``: validate and publish JSON lines of department events.

Each line is ``{"event_type": "<department>.<event>", "event": {<Avro JSON form>}}``. A bad line
is reported with its line number and the rule it broke, and nothing is sent for it; the valid
lines are published all the same. The exit status is 1 if any line failed.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from typing import IO, Any

import click

from exchange.errors import ExchangeError


def parse_line(text: str) -> tuple[str, dict[str, Any]]:
    """Split one JSON line into its event type and its Avro-JSON event object."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExchangeError(f"not JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(obj, dict):
        raise ExchangeError("a line must be a JSON object with 'event_type' and 'event'")
    event_type, event = obj.get("event_type"), obj.get("event")
    if not isinstance(event_type, str):
        raise ExchangeError("missing 'event_type' (a string like 'tax.taxpayer_registered')")
    if not isinstance(event, dict):
        raise ExchangeError("missing 'event' (the event in the Avro JSON form of its schema)")
    return event_type, event


#: What a bad line raises while it is read and converted: reported, not fatal. The publisher's
#: own refusals (ValidationError, UnknownSchema) come back through publish_many's ``refused``.
_REFUSED = (ExchangeError, KeyError, TypeError, ValueError)


def publish_lines(lines: IO[str], department: str | None, err: IO[str]) -> tuple[Counter[str], int]:
    """Publish every valid line; return counts of published events per type and failed lines.

    Lines are read and validated one by one, each bad one reported as soon as it is met, and
    the good ones are sent in bursts (:meth:`DepartmentPublisher.publish_many`).
    """
    from exchange import codec
    from exchange.settings import load_settings
    from producers.publisher import DepartmentPublisher

    settings = load_settings()
    offered: Counter[str] = Counter()  # events handed to the publisher, by type
    refused: Counter[str] = Counter()  # ... and refused by its validation
    failed = 0
    at = (0, "")  # line number and event type of the event the publisher has in hand

    def report(number: int, exc: Exception) -> None:
        nonlocal failed
        failed += 1
        print(f"line {number}: {type(exc).__name__}: {exc}", file=err)

    def events() -> Iterator[tuple[str, dict[str, Any]]]:
        nonlocal at
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                event_type, event = parse_line(text)
                record = codec.from_json(event_type, event)
            except _REFUSED as exc:
                report(number, exc)
                continue
            at = (number, event_type)
            offered[event_type] += 1
            yield event_type, record

    def on_refused(_index: int, exc: ExchangeError) -> None:
        # Called before the next line is read: ``at`` is still the refused event's line.
        number, event_type = at
        refused[event_type] += 1
        report(number, exc)

    with DepartmentPublisher(settings, department) as publisher:
        publisher.publish_many(events(), on_refused)
    return offered - refused, failed


@click.command("publish")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option(
    "--department",
    default=None,
    help="Publish as this department only: events of other departments are refused.",
)
def publish_command(source: IO[str], department: str | None) -> None:
    """Validate and publish JSON lines of department events from SOURCE (default: stdin)."""
    try:
        published, failed = publish_lines(source, department, sys.stderr)
    except ExchangeError as exc:  # delivery failures surface at flush
        raise click.ClickException(str(exc)) from exc
    total = sum(published.values())
    click.echo(f"published {total} events ({len(published)} types), {failed} lines refused")
    if failed:
        sys.exit(1)
