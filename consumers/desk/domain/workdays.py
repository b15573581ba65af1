"""Working time on the official Chinese calendar (工作日, 调休 included) and office hours.

Definitions used by every time limit in the desk domain:

* A **working day** is a day the State Council schedule says people work: Monday to Friday
  unless a public holiday, plus the adjusted weekend workdays (调休). The schedule comes from
  the ``chinese_calendar`` library (years 2004-2026 in 1.11.0) and may be extended with a
  :class:`CalendarSupplement` for a year the library does not know yet (the real schedule,
  once the State Council publishes it, usually in November for the next year).
* **Provisional years.** A year after the library's last year and not in the supplement
  follows a documented provisional rule: Monday to Friday are working days, except the
  fixed-date statutory holidays known years in advance (1 January, 1-2 May, 1-3 October);
  lunar holidays (Spring Festival, Qingming, Dragon Boat, Mid-Autumn) and 调休 are unknown
  and ignored. Such dates are flagged: :meth:`OfficialCalendar.is_provisional` is true and a
  warning is logged once per year. ``OfficialCalendar(strict=True)`` refuses to guess and
  raises :class:`CalendarOutOfRange`, as does any year before the library's first.
* **Office hours** are 09:00-12:00 and 13:30-17:30 China Standard Time (UTC+8, no daylight
  saving since 1991), i.e. 7 hours of office time per working day.
* **Working time** is office time: the overlap with office hours of working days. One
  working day is one full day of office time (7 h), half a working day 3.5 h; a limit of
  N working days accepted at 10:00 falls due at 10:00 N working days later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import chinese_calendar
from chinese_calendar.constants import holidays as _LIB_HOLIDAYS

from consumers.desk.domain.limits import TimeLimit
from exchange.errors import ExchangeError

CHINA_TZ = timezone(timedelta(hours=8), "CST")
"""China Standard Time: a fixed UTC+8 offset, no tz database needed."""

LIBRARY_YEARS = range(min(_LIB_HOLIDAYS).year, max(_LIB_HOLIDAYS).year + 1)
"""Years whose official schedule ``chinese_calendar`` knows."""

PROVISIONAL_HOLIDAYS: tuple[tuple[int, int], ...] = (
    (1, 1),
    (5, 1),
    (5, 2),
    (10, 1),
    (10, 2),
    (10, 3),
)
"""(month, day) of the fixed-date statutory holidays used for provisional years."""

_log = logging.getLogger(__name__)
_WARNED_YEARS: set[int] = set()  # provisional years already logged (once per process)

_MAX_SCAN_DAYS = 366 * 3  # a deadline further than this is a configuration error


class CalendarOutOfRange(ExchangeError):
    """A date falls in a year whose official schedule is not known."""

    def __init__(self, day: date, known: range) -> None:
        self.day = day
        self.known = known
        super().__init__(
            f"no official working-day schedule for {day.year} (date {day.isoformat()}): "
            f"chinese_calendar knows {known.start}-{known.stop - 1}; upgrade chinese-calendar "
            f"or pass a CalendarSupplement with the State Council schedule for {day.year}"
        )


@dataclass(frozen=True, slots=True)
class OfficePeriod:
    """One span of office hours within a day, ``[start, end)`` in China time."""

    start: time
    end: time

    @property
    def length(self) -> timedelta:
        """Length of the period."""
        return _on(date(2000, 1, 1), self.end) - _on(date(2000, 1, 1), self.start)


DEFAULT_OFFICE_HOURS: tuple[OfficePeriod, ...] = (
    OfficePeriod(time(9, 0), time(12, 0)),
    OfficePeriod(time(13, 30), time(17, 30)),
)


@dataclass(frozen=True, slots=True)
class CalendarSupplement:
    """The official schedule of years the library does not cover yet.

    ``holidays`` are weekdays off, ``workdays`` are adjusted weekend workdays (调休); every
    other date of a year in ``years`` follows Monday-Friday.
    """

    years: frozenset[int]
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()


def _on(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=CHINA_TZ)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


@dataclass(frozen=True, slots=True)
class OfficialCalendar:
    """Working days and office hours: the clock of every desk deadline."""

    office_hours: tuple[OfficePeriod, ...] = DEFAULT_OFFICE_HOURS
    supplement: CalendarSupplement = field(default_factory=lambda: CalendarSupplement(frozenset()))
    strict: bool = False

    @property
    def working_day(self) -> timedelta:
        """Office time of one full working day (7 h with the default hours)."""
        return sum((p.length for p in self.office_hours), timedelta())

    @property
    def known_years(self) -> range:
        """Contiguous range of years with a known schedule (library plus supplement)."""
        years = set(LIBRARY_YEARS) | set(self.supplement.years)
        low = LIBRARY_YEARS.start
        high = LIBRARY_YEARS.stop
        while high in years:
            high += 1
        return range(low, high)

    def is_provisional(self, day: date) -> bool:
        """Whether ``day`` is judged by the provisional rule (see the module docstring)."""
        return (
            not self.strict
            and day.year >= LIBRARY_YEARS.stop
            and day.year not in self.supplement.years
        )

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day; raises :class:`CalendarOutOfRange` when unknown.

        Years after the library's last follow the provisional rule unless ``strict``.
        """
        if day.year in self.supplement.years:
            if day in self.supplement.workdays:
                return True
            return day.weekday() < 5 and day not in self.supplement.holidays
        if day.year in LIBRARY_YEARS:
            return bool(chinese_calendar.is_workday(day))
        if not self.is_provisional(day):
            raise CalendarOutOfRange(day, self.known_years)
        if day.year not in _WARNED_YEARS:
            _WARNED_YEARS.add(day.year)
            _log.warning(
                "working days of %d are provisional (Mon-Fri minus 1 Jan, 1-2 May, 1-3 Oct): "
                "chinese_calendar knows %d-%d; upgrade it or configure a CalendarSupplement",
                day.year,
                LIBRARY_YEARS.start,
                LIBRARY_YEARS.stop - 1,
            )
        return day.weekday() < 5 and (day.month, day.day) not in PROVISIONAL_HOLIDAYS

    def _periods_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Office periods (China time) overlapping or after ``start``, clipped to it."""
        local = start.astimezone(CHINA_TZ)
        day = local.date()
        for _ in range(_MAX_SCAN_DAYS):
            if self.is_workday(day):
                for period in self.office_hours:
                    begin, end = _on(day, period.start), _on(day, period.end)
                    if end > local:
                        yield max(begin, local), end
            day += timedelta(days=1)
        raise ValueError(f"no office time within {_MAX_SCAN_DAYS} days of {start.isoformat()}")

    def next_office_moment(self, start: datetime) -> datetime:
        """``start`` if it is office time, else the next opening (in ``start``'s zone)."""
        _aware(start, "start")
        begin, _ = next(self._periods_from(start))
        return begin.astimezone(start.tzinfo)

    def office_time(self, limit: TimeLimit | timedelta) -> timedelta:
        """A limit as office time (working days count this calendar's office day)."""
        return limit if isinstance(limit, timedelta) else limit.office_time(self.working_day)

    def add_working_time(self, start: datetime, limit: TimeLimit | timedelta) -> datetime:
        """The earliest instant at which ``limit`` of office time has passed since ``start``.

        ``limit`` is a :class:`TimeLimit` or plain office time. A zero amount gives the next
        office moment (a case accepted at night starts at the next opening). The result is in
        ``start``'s time zone.
        """
        _aware(start, "start")
        amount = self.office_time(limit)
        if amount < timedelta(0):
            raise ValueError(f"working time to add must not be negative, got {amount}")
        if amount == timedelta(0):
            return self.next_office_moment(start)
        remaining = amount
        for begin, end in self._periods_from(start):
            if remaining <= end - begin:
                return (begin + remaining).astimezone(start.tzinfo)
            remaining -= end - begin
        raise AssertionError("unreachable: _periods_from raises when exhausted")

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Office time from ``a`` to ``b``; negative when ``b`` is before ``a``."""
        _aware(a, "a")
        _aware(b, "b")
        if b < a:
            return -self.working_time_between(b, a)
        total = timedelta(0)
        for begin, end in self._periods_from(a):
            if begin >= b:
                break
            total += min(end, b) - begin
        return total


DEFAULT_CALENDAR = OfficialCalendar()
"""The calendar the desk uses unless a locality configures other office hours."""


def add_working_time(
    start: datetime, limit: TimeLimit | timedelta, calendar: OfficialCalendar = DEFAULT_CALENDAR
) -> datetime:
    """Shortcut for :meth:`OfficialCalendar.add_working_time` on the default calendar."""
    return calendar.add_working_time(start, limit)


def working_time_between(
    a: datetime, b: datetime, calendar: OfficialCalendar = DEFAULT_CALENDAR
) -> timedelta:
    """Shortcut for :meth:`OfficialCalendar.working_time_between` on the default calendar."""
    return calendar.working_time_between(a, b)
