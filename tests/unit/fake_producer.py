"""A kafka-python producer stand-in for unit tests: records every send, acknowledges at flush."""

from __future__ import annotations

from typing import Any


class FakeFuture:
    """The parts of kafka-python's FutureRecordMetadata the publisher uses."""

    def __init__(self) -> None:
        self.callbacks: list[tuple[Any, tuple[Any, ...]]] = []

    def add_callback(self, f: Any, *args: Any) -> None:
        self.callbacks.append((f, args))

    def succeeded(self) -> bool:
        return True


class FakeProducer:
    """Records every send; acknowledges everything at flush."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.futures: list[FakeFuture] = []
        self.flushes = 0

    def send(self, topic: str, value: bytes, key: bytes,
             headers: list[tuple[str, bytes]]) -> FakeFuture:
        self.sent.append({"topic": topic, "value": value, "key": key, "headers": headers})
        self.futures.append(FakeFuture())
        return self.futures[-1]

    def flush(self, timeout: float | None = None) -> None:
        self.flushes += 1
        for future in self.futures:
            for f, args in future.callbacks:
                f(*args, None)
        self.futures.clear()

    def close(self, timeout: float | None = None) -> None:
        pass


def event_ids(producer: FakeProducer) -> list[str]:
    """The ``event_id`` header of every message sent, in order."""
    return [dict(m["headers"])["event_id"].decode() for m in producer.sent]
