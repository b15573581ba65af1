"""Drive the join from outside: messages on the wire, a worker process, the output read back.

Used by the integration tests, the join benchmark, the demo and the fault verifier, so that
each checks the real thing the same way: department bytes on real topics, ``exchange worker``
as its own process (killable with SIGKILL), unified records read back from the output topics
and compared with a :class:`~exchange.worker.reference.ReferenceJoin` of the same messages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange import codec
from exchange.schemas import SchemaRegistry
from exchange.topics import DEAD_LETTER, ENTERPRISE_OUT, PROPERTY_OUT
from exchange.worker import records_codec
from exchange.worker.reference import ReferenceJoin


@dataclass(frozen=True)
class WireMessage:
    """One department message as it travels: topic, key, bytes, headers."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    event_id: str
    invalid_reason: str | None = None


def wire_messages(events: Iterable[Any], registry: SchemaRegistry) -> list[WireMessage]:
    """Simulated events as a department would send them; invalid ones as a careless producer."""
    from producers.unchecked import encode_unchecked, wire_headers

    out = []
    for e in events:
        info = registry.event(e.event_type)
        envelope = e.record["envelope"]
        if e.invalid_reason is None:
            value = codec.encode(e.event_type, e.record, registry=registry)
        else:
            value = encode_unchecked(registry, e.event_type, e.record)
        out.append(WireMessage(info.topic, str(envelope["key"]).encode(), value,
                               wire_headers(registry, e.event_type, e.record),
                               str(envelope["event_id"]), e.invalid_reason))
    return out


def reference_of(messages: Iterable[WireMessage], registry: SchemaRegistry) -> ReferenceJoin:
    """What an uninterrupted worker must end with for these messages."""
    ref = ReferenceJoin(registry)
    for m in messages:
        ref.feed(m.topic, m.key, m.value, dict(m.headers))
    return ref


def send_raw(bootstrap: str, messages: Iterable[WireMessage]) -> int:
    """Send messages as they are (no validation), acks=all; return how many were confirmed."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all",
                             enable_idempotence=True, linger_ms=5)
    try:
        futures = [producer.send(m.topic, key=m.key, value=m.value, headers=m.headers)
                   for m in messages]
        producer.flush(timeout=120)
        return sum(1 for f in futures if f.succeeded())
    finally:
        producer.close()


class WorkerProcess:
    """``exchange worker`` as a child process with its own app id and data dir."""

    def __init__(self, bootstrap: str, app_id: str, data_dir: Path,
                 extra_env: Mapping[str, str] | None = None, joins: Sequence[str] = ()) -> None:
        self.args = [arg for kind in joins for arg in ("--join", kind)]  # default: all joins
        self.env = {**os.environ, "EXCHANGE_KAFKA_BOOTSTRAP": bootstrap,
                    "EXCHANGE_WORKER_APP_ID": app_id, "EXCHANGE_DATA_DIR": str(data_dir),
                    "EXCHANGE_WORKER_METRICS_PORT": "0", **(extra_env or {})}
        self.log_path = data_dir / f"{'-'.join(['worker', app_id, *joins])}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        data_dir.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        """Start the worker (appending to its log file)."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "exchange.cli", "worker", *self.args],
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final commit."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not stop in time."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def cry(self) -> None:
        """SIGUSR1: the worker writes the stack of every thread and task to its log."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGUSR1)

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The end of the worker's log, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class OutputReader:
    """Reads the output topics incrementally; keeps the latest record per key.

    ``consumer_options`` go to the ``KafkaConsumer``; subclasses see every message through
    :meth:`on_dead_letter`, :meth:`on_output` and :meth:`on_record`. ``from_end``: skip what
    the topics hold already (earlier runs on the same broker), read only what comes next.
    """

    def __init__(self, bootstrap: str, from_end: bool = False, **consumer_options: Any) -> None:
        from kafka import KafkaConsumer

        self.consumer = KafkaConsumer(ENTERPRISE_OUT, PROPERTY_OUT, DEAD_LETTER,
                                      bootstrap_servers=bootstrap.split(","),
                                      auto_offset_reset="earliest", enable_auto_commit=False,
                                      group_id=None, **consumer_options)
        self.records: dict[str, dict[str, dict[str, Any]]] = {"enterprise": {}, "property": {}}
        self.dead_letters: list[dict[str, str]] = []
        if from_end:
            self._skip_to_end()

    def _skip_to_end(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.consumer.assignment():  # subscribed: assigned by the first polls
            if time.monotonic() > deadline:
                raise TimeoutError(f"no partitions of the output topics within {timeout:.0f} s")
            self.consumer.poll(timeout_ms=200)  # what this returns is skipped anyway
        self.consumer.seek_to_end()
        for tp in self.consumer.assignment():
            self.consumer.position(tp)  # resolved now, not at a later poll

    def poll(self, timeout_ms: int = 1000) -> int:
        """Read what has arrived; return the number of messages read."""
        n = 0
        for messages in self.consumer.poll(timeout_ms=timeout_ms, max_records=5000).values():
            for m in messages:
                n += 1
                if m.topic == DEAD_LETTER:
                    self.on_dead_letter({k: v.decode("utf-8", "replace")
                                         for k, v in (m.headers or [])})
                else:
                    self.on_output(m.value)
        return n

    def on_dead_letter(self, headers: dict[str, str]) -> None:
        """Keep the headers of one dead letter."""
        self.dead_letters.append(headers)

    def on_output(self, value: bytes) -> None:
        """Decode one message of an output topic."""
        self.on_record(records_codec.decode(value))

    def on_record(self, record: dict[str, Any]) -> None:
        """Keep ``record`` as the latest of its key."""
        self.records[record["kind"]][record["key"]] = record

    def close(self) -> None:
        """Close the consumer."""
        self.consumer.close()


def wait_until(condition: Callable[[], bool], timeout: float, step: Callable[[], Any],
               what: str | Callable[[], str]) -> None:
    """Call ``step`` until ``condition`` holds; raise TimeoutError naming ``what``.

    ``what`` may be a callable, evaluated at the deadline, to describe the state then.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout:.0f} s: {what() if callable(what) else what}")
        step()


def differences(ref: ReferenceJoin, reader: OutputReader) -> dict[str, list[str]]:
    """Keys whose published record is missing or differs from the reference, by kind."""
    out: dict[str, list[str]] = {}
    for kind, expected in (("enterprise", ref.enterprises), ("property", ref.properties)):
        got = reader.records[kind]
        out[kind] = sorted(k for k, v in expected.items() if got.get(k) != v)
    return out
