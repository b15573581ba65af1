"""The wire form of unified records: exact round trips, and JSON parts written as before."""

from __future__ import annotations

import json
import sys
import tracemalloc
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
        assert records_codec.encode_in_python(record) == records_codec.encode(record)
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


# The C writer (``_record_codec``) against the Python one: the same bytes for every record
# it writes, and every record it does not write left to the Python writer (``None``).

def _c_write(record: Any) -> bytes | None:
    return records_codec._write_in_c(record, records_codec._header(), records_codec._VALUES,
                                       records_codec._COMPLETENESS, orjson.dumps,
                                       orjson.OPT_SORT_KEYS)


def _outcome(write: Any, record: Any) -> Any:
    try:
        return write(record)
    except Exception as exc:  # noqa: BLE001 - the outcome compared is the error's class
        return type(exc)


def test_the_c_writer_is_built() -> None:
    """``pip install -e .`` (make install) compiles it; without it the worker runs the Python
    writer, correct but slower, which is not what CI measures or tests."""
    assert records_codec._write_in_c is not None, (
        "exchange/worker/_record_codec.c was not built: install a C compiler (gcc) and "
        "reinstall the package (pip install -e .)")


def test_the_c_writer_writes_every_usual_record_as_python_does(
        records: list[dict[str, Any]]) -> None:
    for record in records:
        written = _c_write(record)
        assert written is not None, record["key"]
        assert written == records_codec.encode_in_python(record)
        assert records_codec.encode(record) == written


def test_the_c_writer_keeps_no_reference(records: list[dict[str, Any]]) -> None:
    """Reference counts of everything a write touches are as before (no leak, no theft)."""
    record = records[0]
    touched = [record, record["fields"], record["history"], *record["fields"].values(),
               *record["history"], *(src["value"] for src in record["fields"].values())]
    before = [sys.getrefcount(obj) for obj in touched]
    for _ in range(100):
        _c_write(record)
    assert [sys.getrefcount(obj) for obj in touched] == before


_text = st.text(st.characters(codec="utf-8") | st.sampled_from(["名", "\x00", '"', "\\"]),
                max_size=6)
_json = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats()
                     | _text, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_text, inner, max_size=3), max_leaves=6)


def _records(part: st.SearchStrategy[Any], value: st.SearchStrategy[Any],
             count: st.SearchStrategy[Any], kind: st.SearchStrategy[Any]
             ) -> st.SearchStrategy[dict[str, Any]]:
    """Records of the unified schema's shape, each part drawn from the strategy given."""
    def source(value: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {"value": value, "department": part, "event_id": part, "occurred_at": part})

    return st.fixed_dictionaries({
        "kind": kind,
        "key": part,
        "status": st.none() | part,
        "fields": st.dictionaries(_text, source(value), max_size=3),
        "facts": st.dictionaries(_text, st.fixed_dictionaries(
            {"event_id": part, "occurred_at": part, "count": count}), max_size=3),
        "completeness": st.dictionaries(_text, st.fixed_dictionaries(
            {"arrived": st.lists(part, max_size=2), "missing": st.lists(part, max_size=2)}),
            max_size=2),
        "conflicts": st.lists(st.fixed_dictionaries(
            {"attribute": part, "values": st.lists(source(value), max_size=2)}), max_size=2),
        "history": st.lists(st.fixed_dictionaries(
            {"event_id": part, "event_type": part, "department": part, "occurred_at": part}),
            max_size=3),
    }, optional={"owner_enterprise": value, "lifecycle": value, "collections": value})


#: Every part of the type the schema gives it.
_usual = _records(_text, _json, st.integers(-2**31, 2**31 - 1),
                  st.sampled_from(["enterprise", "property"]))
#: Any part may be of another type, out of range, or not encodable (a lone surrogate).
_odd = st.sampled_from([None, 1, 2.5, b"x", "\ud800", ["x"], {"x": 1}])
_unusual = _records(_text | _odd, _json | _odd,
                    st.integers(-2**31 - 2, 2**31 + 1) | st.booleans() | _odd,
                    st.sampled_from(["enterprise", "property", "other"]) | _odd)


@settings(max_examples=300, deadline=None)
@given(_usual)
def test_the_c_writer_writes_any_record_of_the_schema_as_python_does(
        record: dict[str, Any]) -> None:
    written = _c_write(record)
    assert written is not None
    assert written == records_codec.encode_in_python(record)


@settings(max_examples=300, deadline=None)
@given(_unusual, st.data())
def test_what_the_c_writer_leaves_the_python_writer_writes_or_refuses(
        record: dict[str, Any], data: st.DataObject) -> None:
    """Both writers give the same outcome: the same bytes, or an error of the same class."""
    if data.draw(st.booleans()):  # sometimes a part is missing altogether
        del record[data.draw(st.sampled_from(sorted(record)))]
    written = _outcome(_c_write, record)
    expected = _outcome(records_codec.encode_in_python, record)
    if written is not None:
        assert written == expected
    assert _outcome(records_codec.encode, record) == expected


# The C reader against fastavro: the same record from every record written, and anything
# else (truncated, damaged) left to fastavro, which says what is wrong.

def _c_read(data: bytes) -> dict[str, Any] | None:
    assert records_codec._read_in_c is not None, "the C part was not built"
    return records_codec._read_in_c(data, records_codec._header(), orjson.loads)


def test_the_c_reader_reads_every_record_as_fastavro_does(
        records: list[dict[str, Any]]) -> None:
    for record in records:
        data = records_codec.encode(record)
        read = _c_read(data)
        assert read is not None, record["key"]
        assert read == records_codec.decode_in_python(data) == record
        assert list(read) == list(records_codec.decode_in_python(data))  # and in its order


def test_the_c_reader_leaks_nothing(records: list[dict[str, Any]]) -> None:
    data = [records_codec.encode(record) for record in records[:20]]
    for item in data:  # warm: caches of the interpreter and of orjson
        _c_read(item)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(50):
            for item in data:
                _c_read(item)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes kept after 1,000 reads"


@settings(max_examples=300, deadline=None)
@given(_usual)
def test_the_c_reader_reads_any_record_of_the_schema_as_fastavro_does(
        record: dict[str, Any]) -> None:
    data = records_codec.encode(record)
    read = _c_read(data)
    assert read is not None
    assert read == records_codec.decode_in_python(data)


@settings(max_examples=300, deadline=None)
@given(_usual, st.data())
def test_a_damaged_record_is_read_as_fastavro_reads_it_or_refused_as_it_refuses(
        record: dict[str, Any], data: st.DataObject) -> None:
    """Truncated, cut short or with a byte changed: the C reader returns what fastavro
    returns, or leaves it (None), and decode raises fastavro's DecodeError."""
    written = bytearray(records_codec.encode(record))
    at = data.draw(st.integers(0, len(written) - 1))
    damage = data.draw(st.sampled_from(["cut", "change", "append"]))
    if damage == "cut":
        del written[at:]
    elif damage == "change":
        written[at] = data.draw(st.integers(0, 255))
    else:
        written += data.draw(st.binary(min_size=1, max_size=3))
    damaged = bytes(written)
    read = _c_read(damaged)
    expected = _outcome(records_codec.decode_in_python, damaged)
    if read is not None:
        assert read == expected
    assert _outcome(records_codec.decode, damaged) == expected


def test_the_table_reads_its_records_and_those_of_tables_written_as_json(
        records: list[dict[str, Any]]) -> None:
    """The worker's table holds what ``encode`` writes; a changelog written before held each
    record's JSON, and restores into a table that reads both."""
    for record in records[:20]:
        assert records_codec.from_table(records_codec.encode(record)) == record
        assert records_codec.from_table(orjson.dumps(record)) == record


def test_a_block_written_with_its_size_is_read_as_fastavro_reads_it() -> None:
    """Avro lets a writer give an array's block as a negative count and its size in bytes;
    ours never does, another writer may."""
    entry = {"event_id": "e1", "event_type": "tax.x", "department": "tax",
             "occurred_at": "2024-01-01T00:00:00.000Z"}
    record = {"kind": "enterprise", "key": "k", "status": None, "fields": {}, "facts": {},
              "completeness": {}, "conflicts": [], "history": [entry]}
    data = records_codec.encode(record)
    prefix = records_codec._header() + b"\x00\x02k" + b"\x00" * 5  # kind .. conflicts
    assert data.startswith(prefix + b"\x02")  # one history entry, by count
    body = b"".join(bytes([2 * len(part)]) + part.encode() for part in entry.values())
    assert data[len(prefix) + 1:].startswith(body + b"\x00")
    sized = prefix + b"\x01" + bytes([2 * len(body)]) + data[len(prefix) + 1:]
    assert records_codec.decode_in_python(sized) == record
    assert _c_read(sized) == record
