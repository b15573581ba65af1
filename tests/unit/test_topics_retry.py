"""Topic creation tries again while the cluster cannot answer, and only then."""

from __future__ import annotations

from typing import Any

import pytest
from kafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from exchange import kafka_retry, topics

pytestmark = pytest.mark.unit


def _flaky(monkeypatch: pytest.MonkeyPatch, errors: list[Exception]) -> list[int]:
    calls: list[int] = []

    def once(*_args: Any) -> list[str]:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return ["made"]

    monkeypatch.setattr(topics, "_ensure_topics_once", once)
    monkeypatch.setattr(kafka_retry.time, "sleep", lambda _s: None)
    return calls


def test_a_connection_error_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _flaky(monkeypatch, [KafkaConnectionError("node 1 down"), ConnectionRefusedError()])
    assert topics.ensure_topics({}, [topics.TopicSpec("t")], 4, 3) == ["made"]
    assert len(calls) == 3


def test_a_refusal_is_raised_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _flaky(monkeypatch, [TopicAuthorizationFailedError("not yours")])
    with pytest.raises(TopicAuthorizationFailedError):
        topics.ensure_topics({}, [topics.TopicSpec("t")], 4, 3)
    assert len(calls) == 1


def test_it_gives_up_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    _flaky(monkeypatch, [KafkaConnectionError("down")] * 1000)
    clock = iter(range(0, 10_000, 30))
    monkeypatch.setattr(kafka_retry.time, "monotonic", lambda: float(next(clock)))
    with pytest.raises(KafkaConnectionError):
        topics.ensure_topics({}, [topics.TopicSpec("t")], 4, 3)
