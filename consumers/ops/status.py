"""Status of a consumer group in the manner of Burrow's rules, over a sliding time window.

The exporter cannot see individual commits (OffsetFetch has no commit time), so each poll
records one :class:`Sample` per partition: the committed offset and the offset lag then. A
partition's window holds the samples of the last ``window`` seconds plus the newest one older
than that (so the window always spans at least ``window`` seconds once it is *full*: its
oldest sample is at least ``window`` old). Rules, first match wins, per partition:

1. **OK** when the newest lag is 0 (caught up), or the window is not full yet.
2. **STOP** when the committed offset did not move across the window, lag was above 0 in
   every sample, and the group has no active member: commits have stopped altogether because
   nobody consumes (the group is ``Empty``/``Dead``).
3. **STALL** when the committed offset did not move across the window and lag was above 0 in
   every sample, while the group still has members: consumers are there but not progressing.
4. **WARN** when the committed offset moved but the lag never decreased from one sample to the
   next and ended higher than it started: the group is falling behind.
5. **OK** otherwise.

A group's status is the worst of its partitions'; **ERR** is set by the collector when the
group's offsets (or the broker) cannot be read. Pure: no Kafka, time is passed in.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field


class Status(enum.IntEnum):
    """Group status, ordered from best to worst."""

    OK = 0
    WARN = 1
    STALL = 2
    STOP = 3
    ERR = 4


@dataclass(frozen=True)
class Sample:
    """What one poll saw of one partition of one group."""

    time: float
    committed: int
    lag: int


@dataclass
class PartitionWindow:
    """The samples of one partition of one group inside the sliding window."""

    window: float
    samples: deque[Sample] = field(default_factory=deque)

    def add(self, sample: Sample) -> None:
        """Append a sample and drop those no longer needed to span the window."""
        self.samples.append(sample)
        horizon = sample.time - self.window
        # Keep the newest sample at or before the horizon: it anchors a full window.
        while len(self.samples) >= 2 and self.samples[1].time <= horizon:
            self.samples.popleft()

    def full(self) -> bool:
        """True when the samples span at least the window."""
        s = self.samples
        return len(s) >= 2 and s[-1].time - s[0].time >= self.window

    def status(self, has_members: bool) -> Status:
        """The partition's status by the rules of this module."""
        s = self.samples
        if not s or s[-1].lag == 0 or not self.full():
            return Status.OK
        if all(x.committed == s[0].committed for x in s) and all(x.lag > 0 for x in s):
            return Status.STALL if has_members else Status.STOP
        lags = [x.lag for x in s]
        if all(b >= a for a, b in zip(lags, lags[1:], strict=False)) and lags[-1] > lags[0]:
            return Status.WARN
        return Status.OK


def group_status(partitions: Iterable[Status]) -> Status:
    """The worst status of a group's partitions (OK for a group with none)."""
    return max(partitions, default=Status.OK)
