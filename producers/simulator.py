"""Seeded, realistic department traffic for tests, demos and benchmarks (no Kafka here).

:func:`simulate` draws ``enterprises`` enterprise lives and ``properties`` property lives,
emits their events in time order (or shuffled: out-of-order delivery), optionally repeats some
(redelivery: same event id, identical record) and breaks some the way a bad producer does,
marking each broken one with ``invalid_reason``. The same arguments always give the same
events, ids included.

Independent RNG streams (all derived from ``seed``) draw the world, the damage, the
duplicates and the order, so turning on ``invalid_rate`` or ``shuffle`` does not change which
enterprises and properties exist.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from producers import corruption
from producers.encumbrances import mortgage, objection, release, seizure
from producers.enterprise_changes import later_life
from producers.enterprise_lifecycle import Enterprise, establish
from producers.property_lifecycle import register_first, transfer
from producers.sim_context import Emitter, local_day

DEFAULT_START = datetime(2024, 1, 2, tzinfo=UTC)
HORIZON_DAYS = 365


@dataclass(frozen=True, slots=True)
class SimulatedEvent:
    """One simulated department event.

    ``record`` is in fastavro's in-memory form, envelope included. ``invalid_reason`` is None
    for a valid event, else ``<kind>: <field path>`` (see :mod:`producers.corruption`).
    """

    event_type: str
    record: dict[str, Any]
    invalid_reason: str | None = None
    corruption: corruption.Corruption | None = field(default=None, compare=False, repr=False)
    valid_record: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def event_id(self) -> str:
        """The envelope's event id."""
        return str(self.record["envelope"]["event_id"])

    @property
    def department(self) -> str:
        """The publishing department, lower case (``tax``)."""
        return self.event_type.split(".", 1)[0]


def _world(enterprises: int, properties: int, seed: int, start: datetime) -> list[Any]:
    em = Emitter(random.Random(f"{seed}:world"))
    firms: list[Enterprise] = []
    for _ in range(enterprises):
        at = em.working_instant(local_day(start) + timedelta(em.rng.randrange(HORIZON_DAYS)))
        firm = establish(em, at)
        later_life(em, firm)
        firms.append(firm)
    active = [f for f in firms if f.deregistered_at is None]
    for _ in range(properties):
        _property_life(em, active, start, HORIZON_DAYS)
    return em.events


def _property_life(
    em: Emitter, enterprises: list[Enterprise], start: datetime, horizon_days: int
) -> None:
    """Emit the whole life of one unit."""
    rng = em.rng
    unit = register_first(em, enterprises, start, horizon_days)
    mortgage_id = mortgage(em, unit) if rng.random() < 0.35 else None
    if mortgage_id and rng.random() < 0.4:
        release(em, unit, mortgage_id)
        mortgage_id = None
    if enterprises and rng.random() < 0.3:
        if mortgage_id:
            release(em, unit, mortgage_id)
            mortgage_id = None
        owner_codes = {o["credit_code"] for o in unit.owners}
        buyer = rng.choice(enterprises)
        if buyer.credit_code not in owner_codes:
            transfer(em, unit, buyer)
    if rng.random() < 0.05:
        seizure(em, unit, lifted=rng.random() < 0.6)
    if rng.random() < 0.04:
        objection(em, unit, cancelled=rng.random() < 0.7)


def simulate(
    enterprises: int,
    properties: int,
    seed: int,
    *,
    shuffle: bool = False,
    duplicate_rate: float = 0.0,
    invalid_rate: float = 0.0,
    start: datetime | None = None,
) -> Iterator[SimulatedEvent]:
    """Yield the simulated events (see the module docstring).

    Without ``shuffle`` events come in ``occurred_at`` order (event id breaking ties);
    ``duplicate_rate`` and ``invalid_rate`` are per-event probabilities in ``[0, 1]``.
    """
    for name, rate in (("duplicate_rate", duplicate_rate), ("invalid_rate", invalid_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {rate}")
    if enterprises < 0 or properties < 0:
        raise ValueError("enterprises and properties must not be negative")
    begin = (start or DEFAULT_START).astimezone(UTC)
    raw = _world(enterprises, properties, seed, begin)
    raw.sort(key=lambda e: (e[1]["envelope"]["occurred_at"], e[1]["envelope"]["event_id"]))
    damage = random.Random(f"{seed}:invalid")
    repeat = random.Random(f"{seed}:duplicates")
    out: list[SimulatedEvent] = []
    for event_type, record in raw:
        event = SimulatedEvent(event_type, record)
        if invalid_rate and damage.random() < invalid_rate:
            broken = corruption.choose(damage, record)
            event = SimulatedEvent(event_type, broken.apply(record), broken.reason, broken, record)
        out.append(event)
        if duplicate_rate and repeat.random() < duplicate_rate:
            # a redelivery: same event id, an equal record (a copy, so no shared mutable state)
            out.append(
                SimulatedEvent(
                    event.event_type,
                    copy.deepcopy(event.record),
                    event.invalid_reason,
                    event.corruption,
                    event.valid_record,
                )
            )
    if shuffle:
        random.Random(f"{seed}:order").shuffle(out)
    yield from out


def to_json_line(event: SimulatedEvent) -> str:
    """One line of the ``exchange publish`` input: ``{"event_type": ..., "event": <Avro JSON>}``.

    A broken event is written broken: its valid original is converted, then the same damage
    is applied to the JSON form (fastavro cannot write a record missing a field).
    """
    from exchange import codec  # the registry loads schemas on first use, not at import

    if event.corruption is not None and event.valid_record is not None:
        body = event.corruption.apply(
            codec.to_json(event.event_type, event.valid_record), json_form=True
        )
    else:
        body = codec.to_json(event.event_type, event.record)
    return json.dumps({"event_type": event.event_type, "event": body}, ensure_ascii=False)
