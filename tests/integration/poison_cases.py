"""Poison for the department topics, as hypothesis strategies (used by ``test_poison.py``).

Each :class:`Poison` is one message a careless or hostile producer could put on a department
topic, with the class of damage it carries. None of them may be applied by the worker: each
must end in the dead-letter topic with a reason.
"""

from __future__ import annotations

import copy
import io
import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro import schemaless_writer
from hypothesis import strategies as st

from exchange.codec import MAGIC
from exchange.identifiers import (
    corrupt_credit_code_check,
    corrupt_resident_id_check,
    corrupt_unit_number,
)
from exchange.schemas import SchemaRegistry
from producers.simulator import SimulatedEvent
from producers.unchecked import encode_unchecked, wire_headers


@dataclass(frozen=True)
class Poison:
    """One poisoned message: its damage class, where it goes, what it carries."""

    kind: str
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    secret: str | None = None  # a resident ID inside it that must never leave in clear

    def describe(self) -> str:
        """Class, topic and the first bytes: enough to rebuild the case from a failure."""
        size = -1 if self.value is None else len(self.value)
        head = None if self.value is None else self.value[:24].hex()
        return f"{self.kind} on {self.topic} key={self.key!r} size={size} head={head}"


def future_registry(schemas: Path, into: Path) -> SchemaRegistry:
    """The schemas with a ``market.established`` v2 (one optional field added), unreleased."""
    shutil.copytree(schemas, into)
    path = into / "market" / "established.avsc"
    source = json.loads(path.read_text(encoding="utf-8"))
    source["version"] = int(source.get("version", 1)) + 1
    source["fields"].append({"name": "website", "type": ["null", "string"], "default": None,
                             "doc": "A field only a newer producer knows.",
                             "sharing": "unconditional"})
    path.write_text(json.dumps(source, ensure_ascii=False, indent=2), encoding="utf-8")
    return SchemaRegistry.load(into, require_released=False)


class PoisonFactory:
    """Builds the poison strategies from valid simulated events and the two registries."""

    def __init__(self, registry: SchemaRegistry, future: SchemaRegistry,
                 pool: list[SimulatedEvent], max_event_bytes: int, huge_max: int) -> None:
        self.registry, self.future, self.pool = registry, future, pool
        self.max_event_bytes, self.huge_max = max_event_bytes, huge_max
        self.known = set(registry.fingerprints())
        self.topics = registry.topics("enterprise") + registry.topics("property")  # the join's

    def _valid(self, event: SimulatedEvent) -> bytes:
        return encode_unchecked(self.registry, event.event_type, event.record)

    def _key(self, event: SimulatedEvent) -> bytes:
        return str(event.record["envelope"]["key"]).encode()

    def _poison(self, kind: str, event: SimulatedEvent, value: bytes | None,
                key: bytes | None = None, record: dict[str, Any] | None = None,
                secret: str | None = None) -> Poison:
        topic = self.registry.event(event.event_type).topic
        headers = tuple(wire_headers(self.registry, event.event_type, record or event.record))
        return Poison(kind, topic, self._key(event) if key is None else key, value, headers,
                      secret)

    def strategies(self) -> dict[str, st.SearchStrategy[Poison]]:
        """One strategy per class of damage, by class name."""
        events = st.sampled_from(self.pool)
        size = st.integers(self.max_event_bytes + 1, self.huge_max)
        return {
            "raw bytes": st.builds(self.raw_bytes, events, st.binary(max_size=300)),
            "truncated avro": st.builds(self.truncated, events,
                                        st.floats(0, 1, exclude_max=True)),
            "wrong fingerprint": st.builds(self.wrong_fingerprint, events,
                                           st.binary(min_size=8, max_size=8)),
            "schema from the future": st.builds(self.from_the_future,
                                                st.sampled_from(self._established()),
                                                st.text(max_size=40)),
            "huge raw bytes": st.builds(self.huge, events, size),
            "huge valid avro": st.builds(self.huge_valid, st.sampled_from(self._with_text()),
                                         size),
            "invalid identifier": st.builds(self.invalid_identifier, events,
                                            st.integers(0, 2**32)),
            "key differs from envelope key": st.builds(self.other_key, events, events),
            "tombstone": st.builds(self.tombstone, events),
            "empty value": st.builds(self.empty, events),
        }

    def _established(self) -> list[SimulatedEvent]:
        return [e for e in self.pool if e.event_type == "market.established"]

    def _text_field(self, event_type: str) -> str | None:
        schema = self.registry.event(event_type)
        return next((f["name"] for f in schema.source["fields"]
                     if f["type"] == "string" and f["name"] != schema.key_field), None)

    def _with_text(self) -> list[SimulatedEvent]:
        return [e for e in self.pool if self._text_field(e.event_type) is not None]

    def raw_bytes(self, event: SimulatedEvent, data: bytes) -> Poison:
        """Random bytes (a non-Avro producer, a wrong serializer)."""
        return self._poison("raw bytes", event, data)

    def truncated(self, event: SimulatedEvent, fraction: float) -> Poison:
        """A valid message cut short."""
        value = self._valid(event)
        return self._poison("truncated avro", event, value[:int(len(value) * fraction)])

    def wrong_fingerprint(self, event: SimulatedEvent, fingerprint: bytes) -> Poison:
        """A valid body behind a fingerprint no released schema has."""
        if fingerprint in self.known:
            fingerprint = bytes(b ^ 0xFF for b in fingerprint)
        value = self._valid(event)
        return self._poison("wrong fingerprint", event, MAGIC + fingerprint + value[10:])

    def from_the_future(self, event: SimulatedEvent, website: str) -> Poison:
        """A valid message of ``market.established`` v2, a schema the worker does not know."""
        schema = self.future.event("market.established")
        out = io.BytesIO()
        out.write(MAGIC + schema.fingerprint)
        schemaless_writer(out, schema.schema, {**event.record, "website": website or None})
        return self._poison("schema from the future", event, out.getvalue())

    def huge(self, event: SimulatedEvent, size: int) -> Poison:
        """Random bytes beyond the size limit."""
        return self._poison("huge raw bytes", event, random.Random(size).randbytes(size))

    def huge_valid(self, event: SimulatedEvent, size: int) -> Poison:
        """A well-formed event beyond the size limit (a huge text field)."""
        record = copy.deepcopy(event.record)
        name = self._text_field(event.event_type)
        assert name is not None
        base = len(self._valid(event))
        record[name] = str(record[name]) + "x" * max(0, size - base)
        return self._poison("huge valid avro", event,
                            encode_unchecked(self.registry, event.event_type, record),
                            record=record)

    def invalid_identifier(self, event: SimulatedEvent, seed: int) -> Poison:
        """A broken check character in the key identifier, or in a resident ID number."""
        rng = random.Random(seed)
        record = copy.deepcopy(event.record)
        if "legal_representative_id" in record and record["legal_representative_id"]:
            bad = corrupt_resident_id_check(record["legal_representative_id"], rng=rng)
            record["legal_representative_id"] = bad
            return self._poison("invalid resident id", event,
                                encode_unchecked(self.registry, event.event_type, record),
                                record=record, secret=bad)
        key_field = self.registry.event(event.event_type).key_field
        corrupt = (corrupt_unit_number if key_field == "unit_number"
                   else corrupt_credit_code_check)
        bad = corrupt(record[key_field], rng=rng)
        record[key_field] = record["envelope"]["key"] = bad
        return self._poison(f"invalid {key_field}", event,
                            encode_unchecked(self.registry, event.event_type, record),
                            key=bad.encode(), record=record)

    def other_key(self, event: SimulatedEvent, other: SimulatedEvent) -> Poison:
        """A valid event under the message key of another entity (key != envelope key)."""
        key = self._key(other)
        if key == self._key(event):
            key = key[:-1] + (b"0" if key[-1:] != b"0" else b"1")
        return self._poison("key differs from envelope key", event, self._valid(event), key=key)

    def tombstone(self, event: SimulatedEvent) -> Poison:
        """A null value (a delete marker on a topic that is not compacted)."""
        return self._poison("tombstone", event, None)

    def empty(self, event: SimulatedEvent) -> Poison:
        """A zero-length value."""
        return self._poison("empty value", event, b"")
