"""The benchmark's CPU accounting: what a drain cost its subject, read from the kernel."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from exchange.worker.bench_kit import cpu_seconds

pytestmark = pytest.mark.unit


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_seconds_counts_the_work_of_a_process_and_not_its_idle_time() -> None:
    busy = subprocess.Popen([sys.executable, "-c",
                             "import time\nend = time.process_time() + 0.6\n"
                             "while time.process_time() < end: pass\ntime.sleep(30)"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.2)
        idle_start = cpu_seconds(idle.pid)
        deadline = time.monotonic() + 20
        while cpu_seconds(busy.pid) < 0.6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cpu_seconds(busy.pid) >= 0.6
        time.sleep(0.3)
        assert cpu_seconds(idle.pid) - idle_start < 0.1  # sleeping costs nothing
    finally:
        busy.kill()
        idle.kill()
        busy.wait()
        idle.wait()


def test_cpu_seconds_of_this_process_grows_with_its_work() -> None:
    before = cpu_seconds(os.getpid())
    _spin(0.3)
    assert cpu_seconds(os.getpid()) - before >= 0.25
