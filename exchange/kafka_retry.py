"""Calling the broker again while it cannot answer yet (a node restarting, a coordinator or
an offsets topic still being made), and only then."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


def while_unavailable(call: Callable[[], T], timeout: float, pause: float = 0.5,
                      what: str | None = None) -> T:
    """``call()``, again after ``pause`` seconds while it fails with a retriable Kafka error
    or a connection error, for up to ``timeout`` seconds; then, and for any other error, the
    error is raised. ``what``: a warning naming it is logged before each new try."""
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except (KafkaError, OSError) as exc:
            retriable = isinstance(exc, OSError) or bool(getattr(exc, "retriable", False))
            if not retriable or time.monotonic() > deadline:
                raise
            if what is not None:
                log.warning("%s: %r; trying again", what, exc)
            time.sleep(pause)
