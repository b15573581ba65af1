"""The offset/time lookup table: interpolation, plateaus, edges, bounds (tables of cases)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.ops.lag import OffsetTimeTable, Point, offset_lag

pytestmark = pytest.mark.unit


def table(*points: tuple[int, float], capacity: int = 60) -> OffsetTimeTable:
    t = OffsetTimeTable(capacity)
    for offset, time in points:
        t.add(offset, time)
    return t


# end offset 100 at t=0, 200 at t=10, 200 at t=20 (plateau), 300 at t=30
SAMPLES = ((100, 0.0), (200, 10.0), (200, 20.0), (300, 30.0))


@pytest.mark.parametrize(
    ("committed", "now", "expected"),
    [
        (300, 40.0, 0.0),     # caught up with the newest sample
        (350, 40.0, 0.0),     # committed past our sample (a race): still 0, never negative
        (250, 40.0, 15.0),    # halfway 200 -> 300 (t=20..30): written at t=25
        (150, 40.0, 35.0),    # halfway 100 -> 200: t=5
        (100, 40.0, 40.0),    # exactly the oldest point
        (200, 40.0, 20.0),    # on the plateau: its last time (the conservative end)
        (50, 40.0, 47.5),     # below the table: mean rate 200/30 per s -> t=-7.5
    ],
)
def test_lag_seconds(committed: int, now: float, expected: float) -> None:
    assert table(*SAMPLES).lag_seconds(committed, now) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("points", "committed", "now", "expected"),
    [
        ((), 0, 10.0, None),                       # no sample: unknown
        (((100, 5.0),), 40, 10.0, 5.0),            # one point: lower bound now - t0
        (((100, 5.0), (100, 8.0)), 40, 10.0, 5.0),  # one plateau: lower bound from its start
        (((100, 5.0),), 100, 10.0, 0.0),           # one point, caught up
    ],
)
def test_lag_seconds_with_few_points(
    points: tuple[tuple[int, float], ...], committed: int, now: float, expected: float | None
) -> None:
    assert table(*points).lag_seconds(committed, now) == expected


def test_plateau_is_kept_as_first_and_last_point() -> None:
    t = table((10, 0.0), (10, 1.0), (10, 2.0), (10, 3.0), (20, 4.0))
    assert list(t.points) == [Point(10, 0.0), Point(10, 3.0), Point(20, 4.0)]


def test_offset_going_back_restarts_the_table() -> None:
    t = table((500, 0.0), (600, 1.0), (5, 2.0))
    assert list(t.points) == [Point(5, 2.0)]


def test_capacity_drops_the_oldest_point() -> None:
    t = table(*((i * 10, float(i)) for i in range(10)), capacity=3)
    assert [p.offset for p in t.points] == [70, 80, 90]


def test_capacity_below_two_is_refused() -> None:
    with pytest.raises(ValueError):
        OffsetTimeTable(1)


@pytest.mark.parametrize(("end", "committed", "expected"), [(10, 4, 6), (10, 10, 0), (3, 5, 0)])
def test_offset_lag(end: int, committed: int, expected: int) -> None:
    assert offset_lag(end, committed) == expected


@given(
    steps=st.lists(st.tuples(st.integers(0, 50), st.floats(0.01, 5.0)), min_size=1, max_size=80),
    pick=st.integers(0, 10_000),
)
def test_time_lag_is_monotone_in_committed_offset(
    steps: list[tuple[int, float]], pick: int
) -> None:
    """A group further behind is never estimated as less late (growing end offsets)."""
    t, offset, time = OffsetTimeTable(20), 0, 0.0
    for grow, dt in steps:
        offset, time = offset + grow, time + dt
        t.add(offset, time)
    now = time + 1.0
    lo = pick % (offset + 1)
    hi = min(offset, lo + 1 + pick % 7)
    a, b = t.lag_seconds(lo, now), t.lag_seconds(hi, now)
    assert a is not None and b is not None
    assert a >= b - 1e-9
    assert b >= 0.0
