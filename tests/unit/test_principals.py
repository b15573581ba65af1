"""The principal table is least privilege: topic creation only where the worker needs it."""

from __future__ import annotations

import pytest

from exchange.principals import WORKER, by_name, principals
from exchange.schemas import default_registry
from exchange.settings import load_settings
from exchange.topics import RECORD_KINDS, changelog_topic

pytestmark = pytest.mark.unit


def test_no_principal_holds_all_operations() -> None:
    for principal in by_name(principals(default_registry(), load_settings())).values():
        held = {op for g in principal.grants for op in g.operations}
        assert "ALL" not in held, principal.name


def test_only_the_worker_creates_topics_and_only_under_its_app_id() -> None:
    table = by_name(principals(default_registry(), load_settings(worker_app_id="exchange-app")))
    creates = [(p.name, g) for p in table.values() for g in p.grants if "CREATE" in g.operations]
    assert [(name, g.resource, g.name, g.pattern) for name, g in creates] == [
        (WORKER, "topic", "exchange-app", "prefixed")]
    # The changelogs `exchange worker` pre-creates fall under that prefix.
    for kind in RECORD_KINDS:
        assert changelog_topic("exchange-app", kind).startswith("exchange-app")
