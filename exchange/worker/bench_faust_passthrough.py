"""The benchmarks' second baseline: Faust itself, copying department messages and nothing else.

The same consume-and-produce copy as :mod:`exchange.worker.bench_passthrough`, but through a
Faust agent wired as the join worker was until its source messages bypassed Faust's stream
(:mod:`exchange.worker.intake`): batches taken from the stream (:mod:`exchange.worker.batching`),
direct producer sends confirmed per batch, then the acknowledgement; no decoding, no merge, no
table. Its rate is the ceiling Faust's per-message stream puts on a worker built on it, on
this machine, next to plain aiokafka in the same run.

Run as ``python -m exchange.worker.bench_faust_passthrough`` (EXCHANGE_KAFKA_BOOTSTRAP and
EXCHANGE_WORKER_APP_ID set); :class:`FaustPassthrough` starts it as a benchmark subject.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exchange.worker.bench_kit import PAUSABLE, OneGroup, Paused
from exchange.worker.bench_passthrough import PASS_OUT


class FaustPassthrough(OneGroup, Paused):
    """The Faust copy as a child process, with the group (app id) ``group``."""

    def __init__(self, bootstrap: str, topics: list[str], group: str, log_dir: Path,
                 env: Mapping[str, str] | None = None) -> None:
        self.group = group
        self.topics = topics
        self.env = {**os.environ, **(env or {}), **PAUSABLE, "EXCHANGE_KAFKA_BOOTSTRAP": bootstrap,
                    "EXCHANGE_WORKER_APP_ID": group, "BENCH_TOPICS": ",".join(topics)}
        self.log_path = log_dir / f"{group}.log"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "exchange.worker.bench_faust_passthrough"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def check(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the Faust passthrough exited:\n{tail}")

    def stop(self) -> Any:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return None

    def metrics(self) -> dict[str, float]:
        return {}


def main() -> None:
    from exchange.settings import load_settings
    from exchange.worker.app import faust_app, run
    from exchange.worker.batching import take_batches
    from exchange.worker.outbox import Outbox, Outgoing

    settings = load_settings()
    datadir = settings.data_dir / "bench-faust"
    datadir.mkdir(parents=True, exist_ok=True)  # Faust makes only the last level
    app = faust_app(settings, datadir)
    source = app.topic(*os.environ["BENCH_TOPICS"].split(","), key_serializer="raw",
                       value_serializer="raw")
    app.topic(PASS_OUT, key_serializer="raw", value_serializer="raw")

    outbox = Outbox.of(app)

    async def copy(stream: Any) -> None:
        async for events in take_batches(stream, settings.worker_batch_size):
            # acknowledged when the next batch is asked for
            await outbox.flush([Outgoing(PASS_OUT, event.message.key, event.message.value)
                                for event in events])

    app.agent(source, name="copy")(copy)
    run(app)


if __name__ == "__main__":
    main()
