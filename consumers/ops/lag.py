"""Time lag of a consumer group, estimated from samples of a partition's end offset.

Kafka records when a message was written but not when the end of a partition reached a given
offset cheaply, so, as kafka-lag-exporter does, the exporter samples each partition's end
offset on every poll and keeps a bounded lookup table of ``(offset, wall time)`` points. The
time lag of a group is ``now - t(committed)``, where ``t(o)`` is the time at which the end
offset was at ``o``, read off the table by linear interpolation.

Edges, chosen so the estimate never runs ahead of what the samples show:

* committed ≥ newest end offset: the group is caught up, time lag 0;
* committed inside the table: interpolate between the last point at or below it and the first
  point above it; a flat run (end offset not moving) is kept as its first and last point, so a
  committed offset equal to a plateau reads the plateau's *last* time (the conservative end);
* committed below the oldest point: extrapolate backwards with the table's mean rate
  (oldest to newest point); when the table shows no rate at all (one point, or one plateau),
  fall back to the oldest point's time, a lower bound that grows with the clock;
* end offset going backwards (topic recreated, records deleted): the table restarts.

Pure: no Kafka, no Prometheus; time is passed in.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Point:
    """The end offset of a partition observed at a wall-clock time (seconds since the epoch)."""

    offset: int
    time: float


@dataclass
class OffsetTimeTable:
    """A bounded, time-ordered table of end-offset samples of one partition."""

    capacity: int = 60
    points: deque[Point] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if self.capacity < 2:
            raise ValueError("an offset/time table needs room for at least 2 points")

    def add(self, offset: int, time: float) -> None:
        """Record that the end offset was ``offset`` at ``time``.

        A repeated offset extends the current plateau (its last point moves to ``time``)
        instead of filling the table with copies; the oldest point falls out when full.
        """
        pts = self.points
        if pts and (offset < pts[-1].offset or time < pts[-1].time):
            pts.clear()  # truncated or recreated partition, or a clock step back: start over
        if len(pts) >= 2 and pts[-1].offset == offset == pts[-2].offset:
            pts[-1] = Point(offset, time)
            return
        pts.append(Point(offset, time))
        while len(pts) > self.capacity:
            pts.popleft()

    @property
    def newest(self) -> Point | None:
        """The latest sample, if any."""
        return self.points[-1] if self.points else None

    def time_at(self, offset: int) -> float | None:
        """Estimated wall time at which the end offset was ``offset`` (None: no samples).

        For an offset at or past the newest point, the newest point's time.
        """
        pts = self.points
        if not pts:
            return None
        newest, oldest = pts[-1], pts[0]
        if offset >= newest.offset:
            return newest.time
        if offset < oldest.offset:
            if newest.offset == oldest.offset:
                return oldest.time  # no rate to extrapolate with: the lower bound
            rate = (newest.offset - oldest.offset) / (newest.time - oldest.time or 1e-9)
            return oldest.time - (oldest.offset - offset) / rate
        offsets = [p.offset for p in pts]
        i = bisect_right(offsets, offset) - 1  # last point at or below the offset
        lo, hi = pts[i], pts[i + 1]
        if lo.offset == offset:
            return lo.time  # bisect_right lands on the last point of the plateau
        fraction = (offset - lo.offset) / (hi.offset - lo.offset)
        return lo.time + fraction * (hi.time - lo.time)

    def lag_seconds(self, committed: int, now: float) -> float | None:
        """Time lag of a group that committed ``committed`` (None: no samples yet)."""
        newest = self.newest
        if newest is None:
            return None
        if committed >= newest.offset:
            return 0.0
        at = self.time_at(committed)
        assert at is not None
        return max(0.0, now - at)


def offset_lag(end_offset: int, committed: int) -> int:
    """Messages not yet consumed: never negative (a commit can race ahead of our end sample)."""
    return max(0, end_offset - committed)
