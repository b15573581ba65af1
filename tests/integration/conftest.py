"""Fixtures shared by the integration tests of one kind (the broker fixtures are in
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from exchange.localbroker import load_secure_kafka, started


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One secured broker (SASL/SCRAM, ACLs) per test module; a failure to start fails the
    tests (no skip). Per module: each module's principals and topics start from scratch."""
    kafka = load_secure_kafka().SecureKafka(tmp_path_factory.mktemp("kafka-secure"), size=1,
                                            port=0, die_with_parent=True)
    with started(kafka, "secured local Kafka did not start"):
        yield kafka
