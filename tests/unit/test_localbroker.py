"""``started`` and ``plain_and_secured`` without a JVM: every broker that was started is stopped."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from exchange import localbroker
from exchange.localbroker import plain_and_secured, started

pytestmark = pytest.mark.unit


class FakeBroker:
    """Records its calls; ``start`` raises ``fail`` when given."""

    def __init__(self, data_dir: Path, fail: Exception | None = None,
                 journal: list[str] | None = None, **options: Any) -> None:
        self.dir, self.fail, self.options = data_dir, fail, options
        self.calls: list[str] = []
        self.journal = [] if journal is None else journal  # calls of every broker, in order
        self.bootstrap = f"127.0.0.1:{data_dir.name}"

    def start(self, **kwargs: Any) -> str:
        self.calls.append(f"start {kwargs}")
        self.journal.append(f"start {self.dir.name}")
        if self.fail is not None:
            raise self.fail
        return self.bootstrap

    def stop(self) -> None:
        self.calls.append("stop")
        self.journal.append(f"stop {self.dir.name}")


def test_started_forwards_start_options_and_stops_once() -> None:
    broker = FakeBroker(Path("b"))
    with started(broker, "never said", timeout=180) as inside:
        assert inside is broker
        assert broker.calls == ["start {'timeout': 180}"]
    assert broker.calls == ["start {'timeout': 180}", "stop"]


def test_started_stops_when_the_block_raises() -> None:
    broker = FakeBroker(Path("b"))
    with pytest.raises(ValueError, match="body"), started(broker, "never said"):
        raise ValueError("body")
    assert broker.calls[-1] == "stop"


def test_a_failed_start_stops_what_came_up_and_fails_with_the_reason() -> None:
    cause = TimeoutError("no answer in 120s")
    broker = FakeBroker(Path("b"), fail=cause)
    with pytest.raises(RuntimeError) as caught, started(broker, "secured Kafka did not start"):
        pytest.fail("the block must not run")
    assert str(caught.value) == "secured Kafka did not start: no answer in 120s"
    assert caught.value.__cause__ is cause
    assert broker.calls == ["start {}", "stop"]


def _fake_secure_module(made: list[FakeBroker], fail_secured: bool) -> SimpleNamespace:
    journal: list[str] = []

    def local(data_dir: Path, **options: Any) -> FakeBroker:
        made.append(FakeBroker(data_dir, journal=journal, **options))
        return made[-1]

    def secured(data_dir: Path, **options: Any) -> FakeBroker:
        fail = RuntimeError("SCRAM login refused") if fail_secured else None
        made.append(FakeBroker(data_dir, fail=fail, journal=journal, **options))
        return made[-1]

    return SimpleNamespace(localkafka=SimpleNamespace(LocalKafka=local), SecureKafka=secured)


def test_pair_layout_and_stop_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    made: list[FakeBroker] = []
    monkeypatch.setattr(localbroker, "load_secure_kafka", lambda: _fake_secure_module(made, False))
    said: list[str] = []
    with plain_and_secured(tmp_path, log=said.append) as (plain, secured):
        assert (plain.dir, secured.dir) == (tmp_path / "plain", tmp_path / "secure")
        assert plain.options == secured.options == {"size": 1, "port": 0,
                                                    "die_with_parent": True}
    assert [m.split(" up in")[0] for m in said] == ["plain broker 127.0.0.1:plain",
                                                    "secured broker 127.0.0.1:secure"]
    assert plain.calls == secured.calls == ["start {}", "stop"]
    assert plain.journal == ["start plain", "start secure", "stop secure", "stop plain"]


def test_pair_stops_the_plain_broker_when_the_secured_one_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made: list[FakeBroker] = []
    monkeypatch.setattr(localbroker, "load_secure_kafka", lambda: _fake_secure_module(made, True))
    with (
        pytest.raises(RuntimeError, match="secured local Kafka did not start: SCRAM"),
        plain_and_secured(tmp_path),
    ):
        pytest.fail("the block must not run")
    plain, _secured = made
    assert plain.journal == ["start plain", "start secure", "stop secure", "stop plain"]
