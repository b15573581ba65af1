"""One batch of messages in, changed records and messages to send out: no Faust in here.

The agents only wire (read a batch, call these functions, write the table, send the result),
so everything that decides something is testable without a broker. Within a batch, or a
window of batches (:class:`Window`), each key's record is loaded once, folded with all its
events, and written once: the record cache that Kafka Streams uses to save changelog and
output traffic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from exchange import codec, merge
from exchange.errors import ExchangeError
from exchange.events import DepartmentEvent, from_avro
from exchange.schemas import SchemaRegistry
from exchange.topics import OWNER_LINKS, OWNER_SNAPSHOTS, PROBE, PROBE_REPLIES

Record = dict[str, Any]
Lookup = Callable[[str], Record | None]


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message as consumed: where it came from and its raw bytes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that cannot be applied, and why, in words a person can act on."""

    incoming: Incoming
    error_class: str
    reason: str


@dataclass
class BatchResult:
    """What a batch changed and what must be sent because of it."""

    records: dict[str, Record] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    outgoing: list[tuple[str, str, bytes]] = field(default_factory=list)  # (topic, key, value)
    applied: Counter[str] = field(default_factory=Counter)  # events applied per department
    # Records that messages of this batch left as they were (a redelivery, a stale snapshot).
    # The worker writes them to its table again: after a crash the local store may hold a
    # change whose changelog message never left, and this puts it back in the changelog.
    unchanged: dict[str, Record] = field(default_factory=dict)


#: A batch of one record kind in, what it changed out (the worker's and the benchmarks').
Processor = Callable[[list[Incoming], Lookup, SchemaRegistry], BatchResult]


def decode_event(incoming: Incoming, codec_: codec.Codec, kind: str) -> DepartmentEvent:
    """Decode, validate and translate one department message; raise ExchangeError if unusable.

    ``codec_`` is the registry's codec, looked up once per batch (``codec.codec_for`` costs
    as much as a small check)."""
    if incoming.value is None:
        raise codec.DecodeError(f"empty message (tombstone) on department topic {incoming.topic}")
    event_type, record = codec_.decode(incoming.value)
    codec_.validate_identifiers(event_type, record)
    event = from_avro(event_type, record)
    if merge.record_kind_for(event_type) != kind:
        raise ExchangeError(f"{event_type} is not an {kind} event but arrived on {incoming.topic}")
    key = incoming.key.decode("utf-8", "replace") if incoming.key is not None else None
    if key != event.key:
        raise ExchangeError(
            f"message key {key!r} differs from the event's key field (envelope.key) "
            f"of {event_type} {event.event_id}"
        )
    return event


class _Cache:
    """Records of this batch, loaded from the table once and remembered with their originals."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self.original: dict[str, Record | None] = {}
        self.current: dict[str, Record | None] = {}

    def get(self, key: str) -> Record | None:
        if key not in self.current:
            self.original[key] = self.current[key] = self._lookup(key)
        return self.current[key]

    def put(self, key: str, record: Record) -> None:
        self.current[key] = record

    def changed(self) -> dict[str, tuple[Record | None, Record]]:
        return {
            k: (self.original[k], v)
            for k, v in self.current.items()
            if v is not None and v is not self.original[k]
        }

    def unchanged(self) -> dict[str, Record]:
        """Keys a message was applied to without changing them: redelivered or stale."""
        return {k: v for k, v in self.current.items() if v is not None and v is self.original[k]}


def _dead(incoming: Incoming, exc: Exception) -> DeadLetter:
    """Any failure to apply one message dead-letters that message and the stream goes on.

    Our own errors say what is wrong with the message; anything else is a defect of ours,
    and the message is kept in the dead-letter topic (replayable once fixed) rather than
    crashing the agent, which would ack the batch on its way down.
    """
    return DeadLetter(incoming, type(exc).__name__, str(exc) or repr(exc))


@dataclass(frozen=True)
class _Kind:
    """What differs between the two sides of the join; the batch loop is the same."""

    name: str
    join_topic: str  # the repartition topic this side reads
    fold_join: Callable[[_Cache, bytes | None], None]  # apply one message of join_topic
    derived: Callable[[str, Record | None, Record], list[tuple[str, str, bytes]]]


def _fold_owner_link(cache: _Cache, value: bytes | None) -> None:
    link = merge.OwnerLink.from_dict(orjson.loads(value or b"null"))
    key = link.credit_code
    cache.put(key, merge.apply_owner_link(cache.get(key) or merge.new_record("enterprise", key),
                                          link))


def _fold_owner_snapshot(cache: _Cache, value: bytes | None) -> None:
    msg = orjson.loads(value or b"null")
    key = msg["unit_number"]
    record = cache.get(key) or merge.new_record("property", key)
    cache.put(key, merge.apply_owner_snapshot(record, msg["credit_code"], msg["snapshot"]))


def _snapshots(key: str, old: Record | None, new: Record) -> list[tuple[str, str, bytes]]:
    """The enterprise's snapshot, pushed to the units it owns or owned (see merge.join)."""
    targets = merge.snapshot_targets(old, new)
    if not targets:
        return []
    snapshot = merge.owner_snapshot(new)
    return [(OWNER_SNAPSHOTS, unit,
             orjson.dumps({"unit_number": unit, "credit_code": key, "snapshot": snapshot}))
            for unit in targets]


def _links(key: str, old: Record | None, new: Record) -> list[tuple[str, str, bytes]]:
    """The property's ownership timeline, sent to every enterprise it names (see merge.join)."""
    return [(OWNER_LINKS, link.credit_code, orjson.dumps(link.to_dict()))
            for link in merge.owner_links(old, new)]


ENTERPRISE = _Kind("enterprise", OWNER_LINKS, _fold_owner_link, _snapshots)
PROPERTY = _Kind("property", OWNER_SNAPSHOTS, _fold_owner_snapshot, _links)
KINDS = {kind.name: kind for kind in (ENTERPRISE, PROPERTY)}


class Window:
    """Batches of one record kind folded together, and what they changed as one result.

    Kafka Streams' record cache: each key's record is loaded once per window, folded with
    all the window's events, and its changed record comes out once, however many of the
    window's events changed it; the join messages it causes are decided once, from the
    record as the window found it and as it leaves it (the join is a semilattice, see
    :mod:`exchange.merge.join`, so the intermediate versions add nothing). The worker keeps a
    window open while it is behind and closes it when it has caught up, so under a backlog a
    record is encoded, sent and written once for many events.
    """

    def __init__(self, kind: _Kind, lookup: Lookup, registry: SchemaRegistry) -> None:
        self.kind = kind
        self.messages = 0
        self._cache = _Cache(lookup)
        self._codec = codec.codec_for(registry)
        self._dead_letters: list[DeadLetter] = []
        self._applied: Counter[str] = Counter()
        self._probes: list[tuple[str, str, bytes]] = []

    def fold(self, batch: list[Incoming]) -> None:
        """Fold department facts and the other side's join messages into the window."""
        kind, cache, codec_ = self.kind, self._cache, self._codec
        for incoming in batch:
            try:
                if incoming.topic == PROBE:  # the end-to-end probe: echoed, nothing else
                    key = (incoming.key or b"").decode()
                    self._probes.append((PROBE_REPLIES, key, incoming.value or b""))
                elif incoming.topic == kind.join_topic:
                    kind.fold_join(cache, incoming.value)
                else:
                    event = decode_event(incoming, codec_, kind.name)
                    cache.put(event.key, merge.merge(cache.get(event.key), event))
                    self._applied[event.department] += 1
            except Exception as exc:  # noqa: BLE001 - see _dead
                self._dead_letters.append(_dead(incoming, exc))
        self.messages += len(batch)

    def result(self) -> BatchResult:
        """What the window's batches changed, and what must be sent because of it."""
        result = BatchResult(dead_letters=self._dead_letters, applied=self._applied)
        result.outgoing.extend(self._probes)
        for key, (old, new) in self._cache.changed().items():
            result.records[key] = new
            result.outgoing.extend(self.kind.derived(key, old, new))
        result.unchanged = self._cache.unchanged()
        return result


def process_batch(kind: _Kind, batch: list[Incoming], lookup: Lookup,
                  registry: SchemaRegistry) -> BatchResult:
    """Fold department facts and the other side's join messages into records of ``kind``."""
    window = Window(kind, lookup, registry)
    window.fold(batch)
    return window.result()


def process_enterprise_batch(
    batch: list[Incoming], lookup: Lookup, registry: SchemaRegistry
) -> BatchResult:
    """Fold department facts and owner links into enterprise records."""
    return process_batch(ENTERPRISE, batch, lookup, registry)


def process_property_batch(
    batch: list[Incoming], lookup: Lookup, registry: SchemaRegistry
) -> BatchResult:
    """Fold department facts and owner snapshots into property records."""
    return process_batch(PROPERTY, batch, lookup, registry)
