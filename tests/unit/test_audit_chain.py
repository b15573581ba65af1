"""The audit hash chain (:mod:`exchange.audit`): each kind of tampering is detected and named.

Chains are built the way both writers build them (the desk's table rows and the topic's
entries, :mod:`exchange.audit_topic`), then edited, cut, extended or shuffled in memory.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from exchange.audit import GENESIS, Link, Problem, chain_hash, verify
from exchange.audit_topic import make_entry, verify_messages

pytestmark = pytest.mark.unit


def chain(n: int) -> list[Link]:
    """An intact chain of ``n`` entries with ids e1..en."""
    links: list[Link] = []
    prev = GENESIS
    for i in range(1, n + 1):
        content = {"who": f"u{i}", "role": "clerk", "action": "read enterprise",
                   "target": f"enterprise:K{i}", "at": f"2024-05-06T09:0{i % 10}:00.000+00:00",
                   "detail": {"found": True}}
        links.append(Link(f"e{i}", prev, chain_hash(prev, content), content))
        prev = links[-1].hash
    return links


def kinds(problems: list[Problem]) -> list[tuple[str, str, int]]:
    return [(p.kind, p.entry_id, p.position) for p in problems]


def test_an_intact_chain_has_no_problem() -> None:
    assert verify(chain(6)) == []
    assert verify([]) == []


def test_the_hash_is_sha256_of_prev_hash_and_canonical_json() -> None:
    import hashlib

    content = {"b": 1, "a": "名"}
    expected = hashlib.sha256(GENESIS.encode() + '{"a":"名","b":1}'.encode()).hexdigest()
    assert chain_hash(GENESIS, content) == expected


def test_an_edited_entry_is_named() -> None:
    links = chain(5)
    links[2] = dataclasses.replace(links[2], content={**links[2].content, "who": "mallory"})
    problems = verify(links)
    assert kinds(problems) == [("edited", "e3", 2)]
    assert str(problems[0]).startswith("audit entry e3: hash does not match its content")
    assert "(position 2)" in str(problems[0])


def test_an_edit_with_a_recomputed_hash_is_named_with_its_successor() -> None:
    links = chain(5)
    content = {**links[1].content, "target": "enterprise:OTHER"}
    links[1] = Link("e2", links[1].prev_hash, chain_hash(links[1].prev_hash, content), content)
    problems = verify(links)
    assert kinds(problems) == [("deleted", "e3", 2)]
    assert "entry e2 at position 1 is a replacement" in str(problems[0])


def test_a_deleted_entry_is_named_by_the_entry_that_followed_it() -> None:
    links = chain(5)
    del links[2]
    problems = verify(links)
    assert kinds(problems) == [("deleted", "e4", 2)]
    assert str(problems[0]).startswith("audit entry e4: prev_hash does not match")
    assert "was deleted" in str(problems[0])


def test_deleting_the_first_entry_shows() -> None:
    assert kinds(verify(chain(3)[1:])) == [("deleted", "e2", 0)]


def test_an_inserted_entry_is_named() -> None:
    links = chain(5)
    content = {"who": "mallory", "role": "supervisor", "action": "read enterprise",
               "target": "enterprise:K9", "at": "2024-05-06T09:02:30.000+00:00", "detail": {}}
    forged = Link("x1", links[1].hash, chain_hash(links[1].hash, content), content)
    links.insert(2, forged)
    problems = verify(links)
    assert kinds(problems) == [("inserted", "x1", 2)]
    assert "was inserted" in str(problems[0]) and "e3" in str(problems[0])


def test_an_inserted_entry_with_a_made_up_prev_hash_is_named() -> None:
    links = chain(4)
    content = {"who": "mallory"}
    links.insert(2, Link("x1", "f" * 64, chain_hash("f" * 64, content), content))
    assert [p.entry_id for p in verify(links)] == ["x1", "x1"]


def test_reordered_entries_are_named() -> None:
    links = chain(5)
    links[1], links[2] = links[2], links[1]
    problems = verify(links)
    assert problems[0].kind == "reordered" and problems[0].entry_id == "e3"
    assert {p.kind for p in problems} == {"reordered"}
    assert {p.entry_id for p in problems} <= {"e2", "e3", "e4"}
    assert "it follows entry e2 at position 2" in str(problems[0])


def test_a_replayed_copy_of_an_entry_is_named() -> None:
    links = chain(4)
    links.append(links[1])
    assert kinds(verify(links)) == [("reordered", "e2", 4)]


def _messages(entries: list[dict[str, object]], partition: int = 0
              ) -> list[tuple[int, int, bytes | None]]:
    return [(partition, i, json.dumps(e).encode()) for i, e in enumerate(entries)]


def topic_chain(n: int, writer: str = "alice@host") -> list[dict[str, object]]:
    """Entries of one writer's chain as ``exchange show`` appends them."""
    entries: list[dict[str, object]] = []
    for i in range(n):
        entries.append(make_entry(entries[-1] if entries else None, writer, "alice", "clerk",
                                  "read enterprise", f"enterprise:K{i}", {"found": True},
                                  at=datetime(2024, 5, 6, 9, i, tzinfo=UTC)))
    return entries


def test_topic_entries_chain_per_writer_with_sequence_numbers() -> None:
    entries = topic_chain(3)
    assert [e["seq"] for e in entries] == [0, 1, 2]
    assert entries[0]["prev_hash"] == GENESIS
    assert entries[1]["prev_hash"] == entries[0]["hash"]
    other = topic_chain(2, "bob@host")
    mixed = [entries[0], other[0], entries[1], other[1], entries[2]]
    assert verify_messages(_messages(mixed)) == []


@pytest.mark.parametrize("tamper, kind", [
    (lambda es: es.__setitem__(1, {**es[1], "who": "mallory"}), "hash does not match"),
    (lambda es: es.pop(1), "was deleted"),
    (lambda es: es.insert(3, es[1]), "entries were reordered"),
])
def test_topic_tampering_names_chain_entry_and_offset(tamper: object, kind: str) -> None:
    entries = topic_chain(5)
    tamper(entries)  # type: ignore[operator]
    problems = verify_messages(_messages(entries, partition=2))
    assert problems and kind in problems[0], problems
    assert problems[0].startswith("chain alice@host: audit entry ")
    assert " at 2@" in problems[0]


def test_unchained_or_garbage_messages_on_the_topic_are_reported() -> None:
    legacy = json.dumps({"who": "x", "action": "read enterprise", "key": "K"}).encode()
    problems = verify_messages([(0, 0, legacy), (0, 1, b"\xff"), (0, 2, None)])
    assert [p.split(":")[0] for p in problems] == [
        "audit message 0@0", "audit message 0@1", "audit message 0@2"]
