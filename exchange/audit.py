"""The audit trail (全程留痕) as a hash chain: the one implementation the desk and the CLI use.

Each entry's hash covers its content and the hash of the entry before it::

    hash = sha256(prev_hash + canonical JSON of the content)

canonical JSON: sorted keys, no spaces, UTF-8 (``ensure_ascii=False``). The first entry of a
chain has ``prev_hash`` = :data:`GENESIS` (64 zeros). What the content is belongs to the
writer: the desk hashes its table columns (``at, actor, role, action, target_kind,
target_key, detail``), the ``exchange.audit.v1`` topic hashes its whole JSON entry but the
two hashes (:mod:`exchange.audit_topic`). Pure: stdlib only, no I/O.

:func:`verify` re-walks a stored chain in its stored order and names every entry that shows
an edit, a deletion, an insertion or a reordering, with its position and entry id. A chain
proves the *order and content* of what it holds, not its length: removing entries from the
end leaves a shorter valid chain, which only an anchor kept elsewhere (the last hash) reveals.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

GENESIS = "0" * 64

Tampering = Literal["edited", "deleted", "inserted", "reordered"]


def canonical(content: Mapping[str, Any]) -> bytes:
    """Canonical JSON bytes of an entry's content (what the hash covers)."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    """The hash of an entry with ``content`` after the entry whose hash is ``prev_hash``."""
    return hashlib.sha256(prev_hash.encode() + canonical(content)).hexdigest()


@dataclass(frozen=True, slots=True)
class Link:
    """One stored entry as the verifier sees it: its id, both hashes and what they cover."""

    entry_id: str
    prev_hash: str
    hash: str
    content: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Problem:
    """One entry that shows tampering: where it is (0-based position, id) and what shows."""

    position: int
    entry_id: str
    kind: Tampering
    explanation: str

    def __str__(self) -> str:
        return f"audit entry {self.entry_id}: {self.explanation} (position {self.position})"


def _after(links: Sequence[Link], j: int) -> str:
    """How a message names the entry at position ``j`` (-1: the start of the chain)."""
    return "the start of the chain" if j < 0 else (
        f"entry {links[j].entry_id} at position {j}")


def _dead_end(links: Sequence[Link], k: int, position: Mapping[str, int],
              named: set[str]) -> bool:
    """Whether the entry at ``k`` leads nowhere: no entry follows it and it does not itself
    follow a later entry (then it was moved, not inserted)."""
    return links[k].hash not in named and position.get(links[k].prev_hash, -1) < k


def verify(links: Sequence[Link]) -> list[Problem]:
    """Every entry of ``links`` (in stored order) that shows tampering; empty when intact.

    * **edited**: the entry's hash does not match its content and ``prev_hash``;
    * **deleted**: its ``prev_hash`` names no entry present, so the entry it followed is gone
      (or was replaced by an edited copy whose hash was recomputed, named too);
    * **inserted**: the entry after it follows the one before it, and no entry follows it;
    * **reordered**: its predecessor is stored elsewhere than right before it.

    Messages start with ``audit entry <id>: hash does not match`` (content) or ``audit entry
    <id>: prev_hash does not match`` (order), then say what the evidence points to.
    """
    position = {link.hash: i for i, link in enumerate(links)}
    position.setdefault(GENESIS, -1)
    named = {link.prev_hash for link in links}
    problems: list[Problem] = []
    for i, link in enumerate(links):
        if link.hash != chain_hash(link.prev_hash, link.content):
            problems.append(Problem(i, link.entry_id, "edited", "hash does not match its "
                                    "content (the entry was edited)"))
            continue
        expected = links[i - 1].hash if i > 0 else GENESIS
        if link.prev_hash == expected:
            continue
        head = "prev_hash does not match the entry before it"
        j = position.get(link.prev_hash)
        if j is None:
            replaced = (f"; or {_after(links, i - 1)} is a replacement of the original"
                        if i > 0 else "")
            problems.append(Problem(i, link.entry_id, "deleted", f"{head}: the entry it "
                                    f"follows (hash {link.prev_hash[:12]}) is missing, it "
                                    f"was deleted{replaced}"))
        elif j == i - 2 and _dead_end(links, i - 1, position, named):
            problems.append(Problem(i - 1, links[i - 1].entry_id, "inserted", f"not in the "
                                    f"chain: the next entry {link.entry_id} (position {i}) "
                                    f"follows {_after(links, j)}, skipping this entry, which "
                                    "was inserted"))
        else:
            problems.append(Problem(i, link.entry_id, "reordered", f"{head}: it follows "
                                    f"{_after(links, j)} (entries were reordered)"))
    return problems


def first_problems(problems: Sequence[Problem]) -> list[str]:
    """The problems as lines, in chain order (what ``exchange audit verify`` prints)."""
    return [str(p) for p in sorted(problems, key=lambda p: p.position)]
