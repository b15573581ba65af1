"""What every lifecycle of the simulator shares: the seeded RNG, clocks, people, the emitter.

Instants are UTC ``datetime`` values rounded to the millisecond (what ``timestamp-millis``
round-trips); department dates are the local (China Standard Time) calendar day of the
instant. Working hours are 09:00-17:30 CST on Monday to Friday; public holidays are not
modelled (the simulated calendar must not end where a holiday table ends).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from exchange.identifiers import make_resident_id
from producers.reference_data import CITIES, GIVEN_CHARS, SURNAMES, City

CST = timezone(timedelta(hours=8))
_OPEN_MINUTES = 9 * 60
_CLOSE_MINUTES = 17 * 60 + 30
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def local_day(at: datetime) -> date:
    """The calendar day in China of a UTC instant."""
    return at.astimezone(CST).date()


def money(cents: int) -> Decimal:
    """Yuan with exactly two decimal places from an integer number of fen."""
    return Decimal(cents).scaleb(-2)


def yuan(value: Decimal | float) -> Decimal:
    """Round a yuan amount to the fen."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class Person:
    """A natural person: name and resident ID (personal data, never a key)."""

    name: str
    id_number: str


@dataclass
class Emitter:
    """Builds department events (envelope included) in the Avro in-memory form.

    All randomness goes through ``rng``, so the same seed yields the same ids and values.
    """

    rng: random.Random
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def uuid(self) -> str:
        """A version-4 UUID drawn from the seeded RNG (deterministic, unlike ``uuid4``)."""
        # the bit-twiddling of uuid.UUID(int=n, version=4), without its per-call overhead
        n = (self.rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def emit(
        self, event_type: str, at: datetime, key: str, trace_id: str, **fields: Any
    ) -> dict[str, Any]:
        """Record one event of ``event_type`` that happened at ``at`` about ``key``."""
        department = event_type.split(".", 1)[0]
        record: dict[str, Any] = {
            "envelope": {
                "event_id": self.uuid(),
                "department": department.upper(),
                "occurred_at": at,
                "key": key,
                "trace_id": trace_id,
            },
            **fields,
        }
        self.events.append((event_type, record))
        return record

    # --- clocks ---------------------------------------------------------------------------

    def working_instant(self, day: date) -> datetime:
        """A random instant within working hours of ``day`` or the next working day."""
        while day.weekday() >= 5:
            day += timedelta(days=1)
        minute = self.rng.randrange(_OPEN_MINUTES, _CLOSE_MINUTES)
        local = datetime(day.year, day.month, day.day, tzinfo=CST) + timedelta(
            minutes=minute, milliseconds=self.rng.randrange(60_000)
        )
        return local.astimezone(UTC)

    def later(self, at: datetime, min_minutes: int, max_minutes: int) -> datetime:
        """An instant some minutes after ``at`` (same case, same office day or so)."""
        span = (max_minutes - min_minutes) * 60_000
        return at + timedelta(milliseconds=min_minutes * 60_000 + int(self.rng.random() * span))

    def days_later(self, at: datetime, min_days: int, max_days: int) -> datetime:
        """A working-hours instant some days after ``at``."""
        return self.working_instant(local_day(at) + timedelta(self.rng.randint(min_days, max_days)))

    # --- people and places ----------------------------------------------------------------

    def person_name(self) -> str:
        """A Chinese personal name: surname and one or two given characters."""
        given = "".join(self.rng.choices(GIVEN_CHARS, k=self.rng.choice((1, 2, 2))))
        return self.rng.choice(SURNAMES) + given

    def person(self, at: datetime, region_code: str | None = None) -> Person:
        """An adult (22-65 years old at ``at``) with a valid resident ID."""
        if region_code is None:
            region_code = self.rng.choice(self.rng.choice(CITIES).districts)[0]
        day = local_day(at)
        born = date(day.year - self.rng.randint(22, 65), 1, 1) + timedelta(self.rng.randrange(365))
        return Person(self.person_name(), make_resident_id(self.rng, region_code, born))

    def city(self) -> City:
        """A city of the reference table."""
        return self.rng.choice(CITIES)

    def digits(self, n: int) -> str:
        """``n`` random decimal digits."""
        return f"{self.rng.randrange(10**n):0{n}d}"
