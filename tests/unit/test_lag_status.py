"""Burrow-style status rules over a sliding window (a table of commit histories)."""

from __future__ import annotations

import pytest

from consumers.ops.status import PartitionWindow, Sample, Status, group_status

pytestmark = pytest.mark.unit

WINDOW = 10.0


def window_of(history: list[tuple[int, int]], step: float = 2.5) -> PartitionWindow:
    """A window fed one sample per ``step`` seconds: (committed, lag) pairs."""
    w = PartitionWindow(WINDOW)
    for i, (committed, lag) in enumerate(history):
        w.add(Sample(i * step, committed, lag))
    return w


@pytest.mark.parametrize(
    ("history", "members", "expected"),
    [
        # caught up now: OK whatever came before
        ([(0, 5), (0, 5), (0, 5), (0, 5), (5, 0)], True, Status.OK),
        # window not full yet (7.5 s of 10): OK
        ([(0, 5), (0, 5), (0, 5), (0, 5)], True, Status.OK),
        # committed offset frozen with lag, members present: STALL
        ([(0, 5), (0, 5), (0, 6), (0, 7), (0, 7)], True, Status.STALL),
        # same, nobody in the group: STOP
        ([(0, 5), (0, 5), (0, 6), (0, 7), (0, 7)], False, Status.STOP),
        # frozen but lag was 0 at the start of the window: not STALL (rule needs lag throughout)
        ([(0, 0), (0, 5), (0, 6), (0, 7), (0, 7)], True, Status.WARN),
        # moving and lag never shrinking, ending higher: WARN
        ([(0, 5), (2, 5), (4, 8), (6, 9), (8, 12)], True, Status.WARN),
        # moving, lag shrinks once: OK
        ([(0, 5), (2, 8), (4, 6), (6, 9), (8, 12)], True, Status.OK),
        # moving with a flat lag: OK (keeping up)
        ([(0, 5), (2, 5), (4, 5), (6, 5), (8, 5)], True, Status.OK),
        # moving, lag shrinking: OK
        ([(0, 9), (2, 8), (4, 6), (6, 5), (8, 1)], False, Status.OK),
    ],
)
def test_partition_status(history: list[tuple[int, int]], members: bool,
                          expected: Status) -> None:
    assert window_of(history).status(members) is expected


def test_window_slides_and_keeps_an_anchor() -> None:
    w = window_of([(i, 1) for i in range(20)], step=1.0)  # t = 0..19
    times = [s.time for s in w.samples]
    assert times[0] == 9.0 and times[-1] == 19.0  # newest sample at or before 19-10 kept
    assert w.full()


def test_old_history_slides_out() -> None:
    """A STALL long ago does not colour a partition that has moved since."""
    history = [(0, 5)] * 8 + [(i, 5) for i in range(1, 9)]
    assert window_of(history).status(True) is Status.OK


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [([], Status.OK), ([Status.OK, Status.WARN], Status.WARN),
     ([Status.STALL, Status.STOP, Status.OK], Status.STOP), ([Status.ERR, Status.OK], Status.ERR)],
)
def test_group_status_is_the_worst(statuses: list[Status], expected: Status) -> None:
    assert group_status(statuses) is expected
