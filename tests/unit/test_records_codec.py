"""The wire form of unified records: exact round trips, and JSON parts written as before."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exchange.schemas import default_registry
from exchange.worker import records_codec
from exchange.worker.harness import reference_of, wire_messages
from producers.simulator import simulate

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    registry = default_registry()
    events = [e for e in simulate(60, 40, seed=21) if e.invalid_reason is None]
    ref = reference_of(wire_messages(events, registry), registry)
    out = list(ref.enterprises.values()) + list(ref.properties.values())
    assert len(out) >= 100
    return out


def test_every_record_reads_back_exactly(records: list[dict[str, Any]]) -> None:
    for record in records:
        assert records_codec.decode(records_codec.encode(record)) == record


def test_the_direct_writer_writes_what_fastavro_writes(records: list[dict[str, Any]]) -> None:
    """``encode`` writes the schema by hand (for speed); fastavro is the reference."""
    for record in records:
        assert records_codec.encode(record) == records_codec.encode_with_fastavro(record)
    empty = {**records[0], "status": None, "fields": {}, "facts": {}, "completeness": {},
             "conflicts": [], "history": []}
    assert records_codec.encode(empty) == records_codec.encode_with_fastavro(empty)
    assert records_codec.decode(records_codec.encode(empty)) == empty


def test_a_record_the_schema_cannot_hold_is_refused() -> None:
    record = {"kind": "enterprise", "key": "k", "status": None, "fields": {},
              "facts": {"market.established": {"event_id": "e", "occurred_at": "t",
                                                "count": 2 ** 40}},
              "completeness": {}, "conflicts": [], "history": []}
    with pytest.raises(ValueError, match="expected an Avro int"):
        records_codec.encode(record)


def _values(obj: Any) -> list[Any]:
    """Every value nested in ``obj``, itself included."""
    found = [obj]
    if isinstance(obj, dict):
        for v in obj.values():
            found += _values(v)
    elif isinstance(obj, list):
        for v in obj:
            found += _values(v)
    return found


def test_json_parts_are_written_as_the_standard_library_writes_them(
        records: list[dict[str, Any]]) -> None:
    """The JSON inside the Avro record keeps its form (compact, sorted keys, UTF-8 text)
    whichever JSON library writes it, so a record encodes to the same bytes as before."""
    samples = [v for r in records for v in _values(r)]
    samples += [{"名称": "成都流水科技有限公司", "b": [1, 2.5, None, True]}, "引号\"与\\反斜杠\n",
                0.1, -3, 10**15, "\u2028"]
    for value in samples:
        assert records_codec._dump(value) == json.dumps(
            value, ensure_ascii=False, sort_keys=True, separators=(",", ":")), value
