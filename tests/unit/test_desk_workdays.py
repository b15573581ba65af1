"""Working time on the official calendar: holidays, adjusted workdays, weekends, office hours."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest

from consumers.desk.domain import (
    CalendarOutOfRange,
    CalendarSupplement,
    OfficialCalendar,
    TimeLimit,
    add_working_time,
    workdays,
    working_time_between,
)

pytestmark = pytest.mark.unit


def t(text: str) -> datetime:
    """An instant in China time, ``2025-09-22T09:00``."""
    return datetime.fromisoformat(f"{text}+08:00")


def test_national_day_2025_matches_the_library() -> None:
    # The State Council schedule: 10-01..10-08 off, Sunday 09-28 and Saturday 10-11 worked.
    cal = OfficialCalendar()
    for offset in range(8):
        assert not cal.is_workday(date(2025, 10, 1) + timedelta(days=offset))
    assert cal.is_workday(date(2025, 9, 28)) and date(2025, 9, 28).weekday() == 6
    assert cal.is_workday(date(2025, 10, 11)) and date(2025, 10, 11).weekday() == 5
    assert not cal.is_workday(date(2025, 10, 12))
    assert chinese_calendar.is_workday(date(2025, 9, 28))


@pytest.mark.parametrize(
    ("start", "limit", "due"),
    [
        # half a working day is 3.5 h of office time; the lunch break does not count
        ("2025-09-22T10:00", "0.5wd", "2025-09-22T15:00"),
        ("2025-09-22T09:00", "0.5wd", "2025-09-22T14:00"),
        ("2025-09-22T11:30", "1h", "2025-09-22T14:00"),
        ("2025-09-22T09:00", "3h", "2025-09-22T12:00"),  # ends at the lunch break
        ("2025-09-22T10:00", "50m", "2025-09-22T10:50"),
        # across a weekend: Friday 16:00 + 2 h is Monday 09:30
        ("2025-09-19T16:00", "2h", "2025-09-22T09:30"),
        # across National Day: Tuesday 09-30 16:30 + 2 h is Thursday 10-09 10:00
        ("2025-09-30T16:30", "2h", "2025-10-09T10:00"),
        # Friday 09-26 + 1 working day lands on the adjusted workday Sunday 09-28
        ("2025-09-26T10:00", "1wd", "2025-09-28T10:00"),
        # Friday 10-10 + 3 working days: Saturday 10-11 (worked), Monday 13, Tuesday 14
        ("2025-10-10T10:00", "3wd", "2025-10-14T10:00"),
        # accepted at night: the clock starts at the next opening
        ("2025-09-22T20:00", "1h", "2025-09-23T10:00"),
        ("2025-09-30T18:00", "immediate", "2025-10-09T09:15"),
    ],
)
def test_add_working_time(start: str, limit: str, due: str) -> None:
    assert add_working_time(t(start), TimeLimit.parse(limit)) == t(due)


def test_full_working_day_from_opening_ends_at_closing() -> None:
    assert add_working_time(t("2025-09-22T09:00"), TimeLimit.working_days(1)) == t(
        "2025-09-22T17:30"
    )
    assert add_working_time(t("2025-09-22T09:00"), TimeLimit.working_days(2)) == t(
        "2025-09-23T17:30"
    )


def test_zero_office_time_rolls_to_the_next_opening() -> None:
    assert add_working_time(t("2025-09-22T12:00"), timedelta(0)) == t("2025-09-22T13:30")
    assert add_working_time(t("2025-09-22T10:00"), timedelta(0)) == t("2025-09-22T10:00")


def test_working_time_between_counts_office_time_only() -> None:
    assert working_time_between(t("2025-09-30T09:00"), t("2025-10-09T12:00")) == timedelta(hours=10)
    assert working_time_between(t("2025-09-19T17:00"), t("2025-09-22T09:30")) == timedelta(
        minutes=60
    )
    assert working_time_between(t("2025-09-22T12:00"), t("2025-09-22T13:30")) == timedelta(0)
    assert working_time_between(t("2025-09-22T15:00"), t("2025-09-22T10:00")) == -timedelta(
        hours=3, minutes=30
    )


def test_results_keep_the_callers_time_zone() -> None:
    start = t("2025-09-22T10:00").astimezone(datetime.now().astimezone().tzinfo)
    utc_start = datetime.fromisoformat("2025-09-22T02:00+00:00")
    due = add_working_time(utc_start, TimeLimit.hours(1))
    assert due.utcoffset() == timedelta(0) and due == t("2025-09-22T11:00")
    assert add_working_time(start, TimeLimit.hours(1)) == t("2025-09-22T11:00")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_time(datetime(2025, 9, 22, 10), TimeLimit.hours(1))


def test_a_strict_calendar_refuses_unknown_years() -> None:
    cal = OfficialCalendar(strict=True)
    last = cal.known_years.stop - 1
    with pytest.raises(
        CalendarOutOfRange, match=f"no official working-day schedule for {last + 1}"
    ):
        cal.is_workday(date(last + 1, 1, 4))
    with pytest.raises(CalendarOutOfRange, match="CalendarSupplement"):
        cal.add_working_time(t(f"{last}-12-31T16:00"), TimeLimit.working_days(1))


def test_years_before_the_library_always_fail() -> None:
    with pytest.raises(CalendarOutOfRange):
        OfficialCalendar().is_workday(date(2003, 6, 2))


def test_unknown_future_years_are_provisional(caplog: pytest.LogCaptureFixture) -> None:
    cal = OfficialCalendar()
    year = cal.known_years.stop  # the first year the library does not know
    assert not cal.is_provisional(date(year - 1, 12, 31))
    assert cal.is_provisional(date(year, 1, 4))
    caplog.set_level(logging.WARNING, logger="consumers.desk.domain.workdays")
    workdays._WARNED_YEARS.discard(year)  # the warning is once per process
    # fixed-date statutory holidays are off, other weekdays work, weekends are off
    fixed = [date(year, 1, 1), date(year, 5, 1), date(year, 5, 2), date(year, 10, 1)]
    fixed += [date(year, 10, 2), date(year, 10, 3)]
    for day in fixed:
        assert not cal.is_workday(day)
    week = [date(year, 3, 1) + timedelta(days=i) for i in range(7)]
    assert [cal.is_workday(d) for d in week] == [d.weekday() < 5 for d in week]
    warnings = [r for r in caplog.records if "provisional" in r.getMessage()]
    assert len(warnings) == 1 and str(year) in warnings[0].getMessage()


def test_deadlines_run_into_a_provisional_year() -> None:
    # Thursday 2026-12-31 16:00, 1 working day: 1.5 h, New Year's Day (fixed), the weekend,
    # then 5.5 h on Monday 2027-01-04 (chinese_calendar 1.11 stops at 2026)
    cal = OfficialCalendar()
    assert cal.add_working_time(t("2026-12-31T16:00"), TimeLimit.working_days(1)) == t(
        "2027-01-04T16:00"
    )


def test_a_supplement_replaces_the_provisional_rule() -> None:
    # a made-up published schedule: Friday 2027-01-08 off, Sunday 2027-01-10 worked
    sup = CalendarSupplement(
        frozenset({2027}),
        holidays=frozenset({date(2027, 1, 8)}),
        workdays=frozenset({date(2027, 1, 10)}),
    )
    cal = OfficialCalendar(supplement=sup)
    assert not cal.is_provisional(date(2027, 1, 8))
    assert not cal.is_workday(date(2027, 1, 8))
    assert cal.is_workday(date(2027, 1, 10))
    assert cal.is_workday(date(2027, 1, 1))  # the supplement is the whole truth for 2027


def test_a_supplement_extends_the_calendar() -> None:
    cal = OfficialCalendar(
        supplement=CalendarSupplement(frozenset({2027}), holidays=frozenset({date(2027, 1, 1)}))
    )
    assert cal.known_years.stop == 2028
    # Thursday 2026-12-31 16:00: 1.5 h, then New Year's Day and the weekend, then 5.5 h Monday
    assert cal.add_working_time(t("2026-12-31T16:00"), TimeLimit.working_days(1)) == t(
        "2027-01-04T16:00"
    )


@pytest.mark.parametrize(
    ("text", "office"),
    [
        ("immediate", timedelta(minutes=15)),
        ("50m", timedelta(minutes=50)),
        ("2h", timedelta(hours=2)),
        ("4h", timedelta(hours=4)),
        ("0.5wd", timedelta(hours=3, minutes=30)),
        ("3wd", timedelta(hours=21)),
    ],
)
def test_time_limits_parse_print_and_convert(text: str, office: timedelta) -> None:
    limit = TimeLimit.parse(text)
    assert str(limit) == text
    assert OfficialCalendar().office_time(limit) == office


def test_bad_time_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="expected 'immediate'"):
        TimeLimit.parse("two days")
    with pytest.raises(ValueError, match="negative"):
        TimeLimit.hours(-1)
