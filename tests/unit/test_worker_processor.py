"""The worker's batch processor and the reference join, without Kafka."""

from __future__ import annotations

import random

import pytest

from exchange import codec
from exchange.schemas import default_registry
from exchange.worker.processor import Incoming, process_enterprise_batch
from exchange.worker.reference import ReferenceJoin
from producers.simulator import simulate
from producers.unchecked import encode_unchecked

pytestmark = pytest.mark.unit


def _messages(seed: int, invalid_rate: float = 0.0) -> list[tuple[str, bytes, bytes, str | None]]:
    registry = default_registry()
    out = []
    for e in simulate(12, 10, seed, shuffle=True, duplicate_rate=0.1, invalid_rate=invalid_rate):
        info = registry.event(e.event_type)
        if e.invalid_reason is None:
            value = codec.encode(e.event_type, e.record, registry=registry)
        else:
            value = encode_unchecked(registry, e.event_type, e.record)
        out.append((info.topic, str(e.record["envelope"]["key"]).encode(), value, e.invalid_reason))
    return out


def _join(messages: list[tuple[str, bytes, bytes, str | None]]) -> ReferenceJoin:
    ref = ReferenceJoin(default_registry())
    for topic, key, value, _ in messages:
        ref.feed(topic, key, value)
    return ref


def test_the_join_does_not_depend_on_arrival_order() -> None:
    messages = _messages(seed=3)
    shuffled = list(messages)
    random.Random(9).shuffle(shuffled)
    first, second = _join(messages), _join(shuffled)
    assert first.enterprises == second.enterprises
    assert first.properties == second.properties
    owned = [r for r in first.properties.values() if r["owner_enterprise"]]
    assert owned, "the simulation should give some properties an enterprise owner"
    linked = [r for r in first.enterprises.values() if r["collections"]["properties"]]
    assert linked, "the enterprise side of the join should list owned properties"


def test_every_invalid_message_becomes_a_dead_letter_with_a_reason() -> None:
    messages = _messages(seed=5, invalid_rate=0.15)
    invalid = [m for m in messages if m[3] is not None]
    assert invalid
    ref = _join(messages)
    assert len(ref.dead_letters) == len(invalid)
    for dl in ref.dead_letters:
        assert dl.reason and dl.error_class in {"DecodeError", "ValidationError", "UnknownSchema"}
    clean = _join([m for m in messages if m[3] is None])
    assert ref.enterprises == clean.enterprises and ref.properties == clean.properties


def test_a_batch_gives_the_same_records_as_one_message_at_a_time() -> None:
    registry = default_registry()
    messages = [m for m in _messages(seed=8) if m[0].endswith(".enterprise")]
    batch = [Incoming(t, 0, i, k, v) for i, (t, k, v, _) in enumerate(messages)]
    together = process_enterprise_batch(batch, lambda _k: None, registry).records
    one_by_one: dict[str, dict] = {}
    for incoming in batch:
        one_by_one.update(process_enterprise_batch([incoming], one_by_one.get, registry).records)
    assert together == one_by_one


def test_a_message_whose_key_is_not_its_event_key_is_refused() -> None:
    registry = default_registry()
    topic, key, value, _ = next(m for m in _messages(seed=2) if m[0] == "dept.market.enterprise")
    result = process_enterprise_batch([Incoming(topic, 0, 0, b"X" + key[1:], value)],
                                      lambda _k: None, registry)
    assert not result.records
    [dl] = result.dead_letters
    assert "differs from the event's key" in dl.reason


def test_records_handed_to_the_processor_are_never_changed_in_place() -> None:
    """The worker keeps the records it wrote in memory and hands the same objects back
    (its record cache): folding must build new records, never alter the ones it was given."""
    import copy
    from collections import deque

    from exchange.worker.processor import process_property_batch

    registry = default_registry()
    tables: dict[str, dict[str, dict]] = {"enterprise": {}, "property": {}}
    queue = deque(Incoming(t, 0, i, k, v) for i, (t, k, v, _) in enumerate(_messages(seed=4)))
    folded = 0
    while queue:
        incoming = queue.popleft()
        kind = ("enterprise" if incoming.topic.endswith(".enterprise")
                or "owner-links" in incoming.topic else "property")
        process = process_enterprise_batch if kind == "enterprise" else process_property_batch
        handed: dict[str, tuple[dict, dict]] = {}

        def lookup(key: str, table: dict[str, dict] = tables[kind],
                   handed: dict[str, tuple[dict, dict]] = handed) -> dict | None:
            record = table.get(key)
            if record is not None:
                handed[key] = (record, copy.deepcopy(record))
            return record

        result = process([incoming], lookup, registry)
        for key, (record, before) in handed.items():
            assert record == before, f"{key} was changed in place by a {incoming.topic} message"
        tables[kind].update(result.records)
        folded += 1
        queue.extend(Incoming(topic, 0, 0, key.encode(), value)
                     for topic, key, value in result.outgoing)
    assert folded > len(_messages(seed=4)), "join messages should have been folded too"


def _windowed(messages: list[tuple[str, bytes, bytes, str | None]], batch: int, window: int
              ) -> tuple[dict[str, dict[str, dict]], int]:
    """Both sides of the join folded as the worker folds them: batches of ``batch`` messages,
    ``window`` batches per window, each window's join messages fed to the other side after
    it. The final tables, and how many records the windows put out."""
    from exchange.topics import OWNER_LINKS
    from exchange.worker.processor import ENTERPRISE, PROPERTY, Window

    registry = default_registry()
    kinds = {"enterprise": ENTERPRISE, "property": PROPERTY}
    tables: dict[str, dict[str, dict]] = {"enterprise": {}, "property": {}}
    queues: dict[str, list[Incoming]] = {"enterprise": [], "property": []}
    for i, (topic, key, value, _) in enumerate(messages):
        side = "enterprise" if topic.endswith(".enterprise") else "property"
        queues[side].append(Incoming(topic, 0, i, key, value))
    published = 0
    while any(queues.values()):
        for side, kind in kinds.items():
            todo, queues[side] = queues[side], []
            for start in range(0, len(todo), batch * window):
                folding = Window(kind, tables[side].get, registry)
                for at in range(start, min(start + batch * window, len(todo)), batch):
                    folding.fold(todo[at:at + batch])
                result = folding.result()
                tables[side].update(result.records)
                published += len(result.records)
                for topic, key, value in result.outgoing:
                    other = "enterprise" if topic == OWNER_LINKS else "property"
                    queues[other].append(Incoming(topic, 0, 0, key.encode(), value))
    return tables, published


def test_a_window_of_batches_gives_the_records_of_one_message_at_a_time() -> None:
    """A window folds many batches and puts each changed record out once, with the join
    messages decided from where the window began and ended: the tables still converge to
    the reference, and fewer records go out."""
    messages = [m for m in _messages(seed=6) if m[3] is None]
    reference = _join(messages)
    per_batch, sent_per_batch = _windowed(messages, batch=7, window=1)
    windowed, sent_windowed = _windowed(messages, batch=7, window=9)
    for tables in (per_batch, windowed):
        assert tables["enterprise"] == reference.enterprises
        assert tables["property"] == reference.properties
    assert sent_windowed < sent_per_batch
