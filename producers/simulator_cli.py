"""``exchange simulate``: generate department traffic, write it as JSON lines and/or publish it.

The JSON lines are the input format of ``exchange publish``. With ``--publish`` every event
goes through :class:`producers.publisher.DepartmentPublisher`; events broken on purpose
(``--invalid``) are refused by its validation before anything is sent and counted as refused.
Without ``--out`` and ``--publish`` the lines go to standard output.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from producers.simulator import SimulatedEvent, simulate, to_json_line


@dataclass
class Tally:
    """What a run produced, for the summary line."""

    by_department: Counter[str] = field(default_factory=Counter)
    seen: set[str] = field(default_factory=set)
    duplicates: int = 0
    invalid: int = 0
    published: int = 0
    refused: int = 0

    def count(self, event: SimulatedEvent) -> None:
        """Count one emitted event."""
        self.by_department[event.department] += 1
        if event.event_id in self.seen:
            self.duplicates += 1
        self.seen.add(event.event_id)
        if event.invalid_reason is not None:
            self.invalid += 1

    def summary(self, publishing: bool) -> str:
        """One line: events by department, duplicates, invalid (and published/refused)."""
        total = sum(self.by_department.values())
        parts = ", ".join(f"{d} {n}" for d, n in sorted(self.by_department.items()))
        line = f"{total} events ({parts}); {self.duplicates} duplicates; {self.invalid} invalid"
        if publishing:
            line += f"; {self.published} published, {self.refused} refused"
        return line


def _rate(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise click.BadParameter(f"must be between 0 and 1, got {value}")
    return value


@click.command("simulate")
@click.option(
    "--enterprises",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Enterprise lifecycles to simulate.",
)
@click.option(
    "--properties",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Property-unit lifecycles to simulate.",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="Seed of the generator: the same seed gives the same events.",
)
@click.option("--shuffle", is_flag=True, help="Emit in random order (out-of-order delivery).")
@click.option(
    "--duplicates",
    type=float,
    default=0.0,
    callback=_rate,
    show_default=True,
    help="Share of events emitted twice (same event id).",
)
@click.option(
    "--invalid",
    type=float,
    default=0.0,
    callback=_rate,
    show_default=True,
    help="Share of events broken as a bad producer would break them.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write JSON lines (the input of 'exchange publish') to this file.",
)
@click.option(
    "--publish",
    "do_publish",
    is_flag=True,
    help="Publish every event to Kafka (settings from EXCHANGE_* variables).",
)
def simulate_command(
    enterprises: int,
    properties: int,
    seed: int,
    shuffle: bool,
    duplicates: float,
    invalid: float,
    out: Path | None,
    do_publish: bool,
) -> None:
    """Generate realistic, seeded department events for ENTERPRISES and PROPERTIES."""
    console = Console(stderr=True)
    tally = Tally()
    with ExitStack() as stack:
        sink: IO[str] | None = None
        if out is not None:
            sink = stack.enter_context(out.open("w", encoding="utf-8"))
        elif not do_publish:
            sink = sys.stdout
        publisher = _publisher(stack) if do_publish else None
        with console.status("simulating lifecycles..."):
            events = list(
                simulate(
                    enterprises,
                    properties,
                    seed,
                    shuffle=shuffle,
                    duplicate_rate=duplicates,
                    invalid_rate=invalid,
                )
            )
        progress = stack.enter_context(
            Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            )
        )
        verb = "publishing" if do_publish else "writing"
        task = progress.add_task(verb, total=len(events))

        def emitted() -> Iterator[tuple[str, Any]]:
            for event in events:
                tally.count(event)
                if sink is not None:
                    sink.write(to_json_line(event) + "\n")
                progress.advance(task)
                yield event.event_type, event.record

        if publisher is None:
            for _ in emitted():
                pass
        else:
            _publish(publisher, events, emitted(), tally, console)
            publisher.flush()
    console.print(tally.summary(do_publish))
    if out is not None:
        console.print(f"written to {out}")


def _publisher(stack: ExitStack) -> Any:
    from exchange.settings import load_settings
    from producers.publisher import DepartmentPublisher  # lazy: kafka only when publishing

    publisher = DepartmentPublisher(load_settings())
    stack.callback(publisher.close)
    return publisher


def _publish(
    publisher: Any,
    events: list[SimulatedEvent],
    stream: Iterable[tuple[str, Any]],
    tally: Tally,
    console: Console,
) -> None:
    """Publish ``stream`` (``events``, index for index) in bursts; count what the publisher's
    validation refuses, and say so loudly when it refuses an event that was not broken."""
    from exchange.errors import ValidationError

    def refused(index: int, exc: Exception) -> None:
        if not isinstance(exc, ValidationError):
            raise exc  # an unknown event type is a bug of the simulator, not a refusal
        event = events[index]
        tally.refused += 1
        if event.invalid_reason is None:  # a valid event refused is a bug: say so loudly
            console.print(f"[red]refused a valid event {event.event_id}: {exc}")

    tally.published += len(publisher.publish_many(stream, refused))
