"""The project's own Kafka brokers (``deploy/kafka/``) for the demo, benchmarks and tests.

``local_broker``: ``EXCHANGE_KAFKA_BOOTSTRAP`` wins when set; otherwise a local KRaft broker is
started on free loopback ports under a temporary folder and stopped afterwards. ``started``
runs any local broker or cluster for a block; ``plain_and_secured`` runs the pair the secured
benchmarks compare.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple, Protocol, TypeVar

from exchange.settings import REPO_ROOT

LOCALKAFKA = REPO_ROOT / "deploy" / "kafka" / "localkafka.py"
SECURE_KAFKA = REPO_ROOT / "deploy" / "kafka" / "secure.py"


def _load_script(name: str, path: Path) -> ModuleType:
    """Import the script at ``path`` once, as module ``name`` (``deploy/`` is no package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def load_localkafka() -> ModuleType:
    """Import ``deploy/kafka/localkafka.py`` (it lives outside the Python packages)."""
    return _load_script("localkafka", LOCALKAFKA)


def load_secure_kafka() -> ModuleType:
    """Import ``deploy/kafka/secure.py``, the SASL/SCRAM + ACL broker built on localkafka."""
    return _load_script("localkafka_secure", SECURE_KAFKA)


@contextmanager
def local_broker(
    data_dir: Path | None = None, log: Callable[[str], None] = lambda _m: None
) -> Iterator[str]:
    """Yield a bootstrap address: the configured one, or a local broker started for the block."""
    configured = os.environ.get("EXCHANGE_KAFKA_BOOTSTRAP")
    if configured:
        yield configured
        return
    with tempfile.TemporaryDirectory(prefix="exchange-kafka-") as tmp:
        kafka = load_localkafka().LocalKafka(data_dir or Path(tmp), size=1, port=0,
                                             die_with_parent=True)
        try:
            yield kafka.start(log=log)
        finally:
            kafka.stop()


class Broker(Protocol):
    """What ``started`` needs of a broker: ``LocalKafka``, ``SecureKafka`` (any size)."""

    def start(self, *args: Any, **kwargs: Any) -> object: ...

    def stop(self, *args: Any, **kwargs: Any) -> object: ...


B = TypeVar("B", bound=Broker)


@contextmanager
def started(broker: B, failure: str, **start: Any) -> Iterator[B]:
    """Run ``broker`` for the block (``start`` goes to its ``start()``); stop it after, also
    when the block raises.

    A failed start stops whatever nodes did come up, then raises
    ``RuntimeError(f"{failure}: {exc}")``: a caller that needs Kafka fails, never skips.
    """
    try:
        broker.start(**start)
    except Exception as exc:
        broker.stop()
        raise RuntimeError(f"{failure}: {exc}") from exc
    try:
        yield broker
    finally:
        broker.stop()


class BrokerPair(NamedTuple):
    """Two running single brokers: ``plain`` is a ``LocalKafka``, ``secured`` a ``SecureKafka``."""

    plain: Any
    secured: Any


@contextmanager
def plain_and_secured(
    root: Path, log: Callable[[str], None] = lambda _m: None
) -> Iterator[BrokerPair]:
    """A plain broker in ``root/plain`` and a SASL/SCRAM + ACL one in ``root/secure``, each on
    free ports, for the block; both stopped after it (the secured one first), also when it
    raises. ``log`` hears when each is up and how long it took."""
    secure = load_secure_kafka()
    plain = secure.localkafka.LocalKafka(root / "plain", size=1, port=0, die_with_parent=True)
    t0 = time.monotonic()
    with started(plain, "plain local Kafka did not start"):
        log(f"plain broker {plain.bootstrap} up in {time.monotonic() - t0:.1f}s")
        # Planned once the plain broker listens: free ports can then no longer be its ports.
        locked = secure.SecureKafka(root / "secure", size=1, port=0, die_with_parent=True)
        t0 = time.monotonic()
        with started(locked, "secured local Kafka did not start"):
            log(f"secured broker {locked.bootstrap} up in {time.monotonic() - t0:.1f}s")
            yield BrokerPair(plain, locked)
