"""The audit topic ``exchange.audit.v1`` as hash chains: one chain per writer.

Every read through ``exchange show`` appends a JSON entry (who, role, action, target, at,
detail) to the topic. Entries are chained by :mod:`exchange.audit`, one chain per *writer*:

* The writer id is ``<principal or OS user>@<host>``; it is the message key, so a writer's
  entries all land, in order, on one partition of the (multi-partition) topic.
* **How a writer learns the previous hash**: it reads its own last entry back from that
  partition (:func:`last_entry`, scanning backwards from the end), under an exclusive file
  lock ``<data_dir>/audit/<writer>.lock`` held from that read until the broker acknowledged
  the new entry (acks=all). Two ``exchange show`` runs of the same writer on one host thus
  never fork the chain. Writers on other hosts have other ids, hence other chains.
* An entry: ``entry_id`` (UUID), ``writer``, ``seq`` (0, 1, ... within the chain) and the
  audited fields; ``prev_hash`` and ``hash`` over all of them. An entry without the chain
  fields (written before chaining) is reported as unchained.

:func:`verify_topic` reads the whole topic and checks each writer's chain in offset order.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import re
import socket
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exchange.audit import GENESIS, Link, chain_hash, verify
from exchange.settings import Settings
from exchange.topics import AUDIT

CHAIN_FIELDS = ("prev_hash", "hash")
_SCAN_STEP = 500


def writer_id(settings: Settings) -> str:
    """``<principal or OS user>@<host>``: the chain a process of this host appends to."""
    return f"{settings.kafka_username or getpass.getuser()}@{socket.gethostname()}"


def make_entry(prev: Mapping[str, Any] | None, writer: str, who: str, role: str, action: str,
               target: str, detail: Mapping[str, Any], at: datetime | None = None
               ) -> dict[str, Any]:
    """The next entry of ``writer``'s chain after ``prev`` (None: the first one)."""
    entry: dict[str, Any] = {
        "entry_id": str(uuid.uuid4()),
        "writer": writer,
        "seq": 0 if prev is None else int(prev["seq"]) + 1,
        "who": who,
        "role": role,
        "action": action,
        "target": target,
        "at": (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds"),
        "detail": dict(detail),
        "prev_hash": GENESIS if prev is None else str(prev["hash"]),
    }
    entry["hash"] = chain_hash(entry["prev_hash"], _content(entry))
    return entry


def _content(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in CHAIN_FIELDS}


@contextmanager
def writer_lock(settings: Settings, writer: str) -> Iterator[None]:
    """Exclusive lock of one writer's chain on this host (held while appending)."""
    folder = Path(settings.data_dir) / "audit"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^A-Za-z0-9_.@-]", "_", writer) + ".lock")
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def last_entry(settings: Settings, writer: str, topic: str = AUDIT) -> dict[str, Any] | None:
    """The last entry of ``writer``'s chain on ``topic`` (None when it has none yet)."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.partitioner.default import murmur2

    key = writer.encode()
    consumer = KafkaConsumer(**settings.kafka_client_options(), enable_auto_commit=False,
                             group_id=None)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return None
        tp = TopicPartition(topic, (murmur2(key) & 0x7FFFFFFF) % len(partitions))
        consumer.assign([tp])
        begin = consumer.beginning_offsets([tp])[tp]
        high = consumer.end_offsets([tp])[tp]
        while high > begin:  # windows from the end backwards until the writer shows up
            low = max(begin, high - _SCAN_STEP)
            consumer.seek(tp, low)
            found: bytes | None = None
            while consumer.position(tp) < high:
                for message in consumer.poll(timeout_ms=1000).get(tp, []):
                    if message.offset < high and message.key == key:
                        found = message.value
            if found is not None:
                entry = json.loads(found)
                assert isinstance(entry, dict)
                return entry
            high = low
        return None
    finally:
        consumer.close()


def append(settings: Settings, who: str, role: str, action: str, target: str,
           detail: Mapping[str, Any], topic: str = AUDIT) -> dict[str, Any]:
    """Append an entry to this host's chain of ``who`` on ``topic``; return it once acked."""
    from kafka import KafkaProducer

    writer = writer_id(settings)
    with writer_lock(settings, writer):
        entry = make_entry(last_entry(settings, writer, topic), writer, who, role, action,
                           target, detail)
        producer = KafkaProducer(**settings.kafka_client_options(), acks="all")
        try:
            producer.send(topic, key=writer.encode(),
                          value=json.dumps(entry, ensure_ascii=False).encode()).get(timeout=30)
        finally:
            producer.close()
    return entry


def read_topic(settings: Settings, topic: str = AUDIT) -> list[tuple[int, int, bytes | None]]:
    """Every message of ``topic`` as ``(partition, offset, value)``, partition by partition."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**settings.kafka_client_options(), enable_auto_commit=False,
                             group_id=None)
    try:
        out: list[tuple[int, int, bytes | None]] = []
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic)
                                                          or ())]
        if not tps:
            return out
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                out.extend((tp.partition, m.offset, m.value) for m in messages
                           if m.offset < ends[tp])
        return sorted(out, key=lambda m: (m[0], m[1]))
    finally:
        consumer.close()


def verify_messages(messages: list[tuple[int, int, bytes | None]]) -> list[str]:
    """Problems of the chains in ``(partition, offset, value)`` messages; empty when intact.

    Each line names the writer's chain, the entry's position in it and its topic location.
    """
    problems: list[str] = []
    chains: dict[str, list[tuple[int, int, dict[str, Any]]]] = defaultdict(list)
    for partition, offset, value in messages:
        try:
            entry = json.loads(value or b"null")
            ok = isinstance(entry, dict) and all(
                isinstance(entry.get(k), str) for k in ("writer", "entry_id", *CHAIN_FIELDS))
        except ValueError:
            ok = False
        if not ok:
            problems.append(f"audit message {partition}@{offset}: not a chained audit entry "
                            "(unparseable, or written without writer, entry_id and hashes)")
            continue
        chains[entry["writer"]].append((partition, offset, entry))
    for writer, entries in sorted(chains.items()):
        links = [Link(e["entry_id"], e["prev_hash"], e["hash"], _content(e))
                 for _, _, e in entries]
        for problem in sorted(verify(links), key=lambda p: p.position):
            partition, offset, _ = entries[problem.position]
            problems.append(f"chain {writer}: {problem} at {partition}@{offset}")
    return problems


def verify_topic(settings: Settings, topic: str = AUDIT) -> list[str]:
    """:func:`verify_messages` of everything on ``topic``."""
    return verify_messages(read_topic(settings, topic))
