"""Wire form of the worker's outputs: unified records in Avro, dead-letter headers.

Unified records use their own schema (``schemas/exchange/unified_record.avsc``) in the same
single-object encoding as department events. The parts of a record with a fixed shape are
typed Avro; values and the open-ended parts travel as JSON strings inside it, so a record read
back is exactly the record the merge core produced.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from functools import cache
from typing import Any

import fastavro
import orjson
from fastavro.schema import fingerprint, to_parsing_canonical_form

from exchange.avro_writer import write_long, write_string
from exchange.codec_rules import INT_RANGE
from exchange.errors import DecodeError
from exchange.settings import REPO_ROOT
from exchange.worker.processor import DeadLetter

_write_in_c: Callable[..., bytes | None] | None
_read_in_c: Callable[..., dict[str, Any] | None] | None
try:
    from exchange.worker._record_codec import read as _read_in_c
    from exchange.worker._record_codec import write as _write_in_c
except ImportError:  # built without a C compiler: the Python writer and reader do it all
    _write_in_c = _read_in_c = None

#: Whether records are written and read in C (the package was built with a C compiler).
IN_C = _write_in_c is not None and _read_in_c is not None

SCHEMA_PATH = REPO_ROOT / "schemas" / "exchange" / "unified_record.avsc"
MAGIC = b"\xc3\x01"
TYPED = ("kind", "key", "status", "fields", "facts", "completeness", "conflicts", "history")


@cache
def _schema() -> tuple[Any, bytes]:
    parsed = fastavro.parse_schema(json.loads(SCHEMA_PATH.read_text()))
    fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
    return parsed, struct.pack("<Q", int.from_bytes(fp, "big"))


def _dump(value: Any) -> str:
    # orjson: compact, UTF-8 unescaped, sorted keys, as json.dumps(ensure_ascii=False,
    # sort_keys=True, separators=(",", ":")) writes them, at a tenth of the cost (a record
    # has dozens of values to dump; this was half of to_avro).
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def to_avro(record: dict[str, Any]) -> dict[str, Any]:
    """The Avro form of a unified record."""
    return {
        "kind": record["kind"].upper(),
        "key": record["key"],
        "status": record.get("status"),
        "fields": {
            name: {**{k: v for k, v in src.items() if k != "value"},
                   "value_json": _dump(src["value"])}
            for name, src in record["fields"].items()
        },
        "facts": record["facts"],
        "completeness": record["completeness"],
        "conflicts": [
            {"attribute": c["attribute"],
             "values": [{**{k: v for k, v in val.items() if k != "value"},
                         "value_json": _dump(val["value"])} for val in c["values"]]}
            for c in record["conflicts"]
        ],
        "history": record["history"],
        "extra_json": _dump({k: v for k, v in record.items() if k not in TYPED}),
    }


def from_avro(avro: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`to_avro`."""
    record: dict[str, Any] = {
        "kind": avro["kind"].lower(),
        "key": avro["key"],
        "status": avro["status"],
        "fields": {
            name: {**{k: v for k, v in src.items() if k != "value_json"},
                   "value": orjson.loads(src["value_json"])}
            for name, src in avro["fields"].items()
        },
        "facts": avro["facts"],
        "completeness": avro["completeness"],
        "conflicts": [
            {"attribute": c["attribute"],
             "values": [{**{k: v for k, v in val.items() if k != "value_json"},
                         "value": orjson.loads(val["value_json"])} for val in c["values"]]}
            for c in avro["conflicts"]
        ],
        "history": avro["history"],
    }
    record.update(orjson.loads(avro["extra_json"]))
    return record


def encode_with_fastavro(record: dict[str, Any]) -> bytes:
    """Single-object encoding of a unified record through fastavro (the reference that
    :func:`encode` must equal byte for byte)."""
    out = io.BytesIO()
    out.write(_header())
    fastavro.schemaless_writer(out, _schema()[0], to_avro(record))
    return out.getvalue()


def _json(value: Any, buf: bytearray) -> None:
    """``value`` as ``write_string`` writes :func:`_dump` of it, without decoding orjson's
    UTF-8."""
    data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    write_long(len(data), buf)
    buf += data


def _texts(values: list[str], buf: bytearray) -> None:
    if values:
        write_long(len(values), buf)
        pieces = _PIECES
        for value in values:
            buf += pieces[value]
    buf.append(0)


def _completeness(key: bytes, buf: bytearray) -> None:
    """The completeness map whose JSON is ``key``."""
    completeness = orjson.loads(key)
    write_long(len(completeness), buf)
    for department, state in completeness.items():
        write_string(department, buf)
        _texts(state["arrived"], buf)
        _texts(state["missing"], buf)
    buf.append(0)


class _Kept(dict[Any, bytes]):
    """Encoded parts that records repeat, by what they are written from: a record is written
    whole with every change of it, and most of it is what its last version held. A part is
    written (by ``write``) on the first lookup of its key; bounded by emptying it when full.
    """

    def __init__(self, write: Callable[[Any, bytearray], None], size: int = 200_000) -> None:
        super().__init__()
        self._write = write
        self._size = size

    def __missing__(self, key: Any) -> bytes:
        written = bytearray()
        self._write(key, written)
        if len(self) >= self._size:
            self.clear()
        piece = self[key] = bytes(written)
        return piece


#: The names, ids and times of a record's history, facts and sources.
_PIECES = _Kept(write_string)
#: The JSON of the string values of sources (names, addresses, dates, codes): one lookup
#: instead of a dump and its encoding each.
_VALUES = _Kept(_json)
#: Whole completeness maps, by their JSON: a dump of a small map costs less than writing it,
#: and records share a few dozen of them. Written from the key itself (read back), so that
#: no two maps can share bytes unless their JSON is the same.
_COMPLETENESS = _Kept(_completeness)


def encode(record: dict[str, Any]) -> bytes:
    """Single-object encoding of a unified record.

    In C (``_record_codec``, built with the package) for records of the usual shape; in
    Python (:func:`encode_in_python`) for the rest, and everywhere if the C part was not built
    (no compiler where the package was installed). The same bytes either way, and the same
    errors: the C writer leaves every record it cannot write to the Python one.
    """
    if _write_in_c is not None:
        written = _write_in_c(record, _header(), _VALUES, _COMPLETENESS, orjson.dumps,
                              orjson.OPT_SORT_KEYS)
        if written is not None:
            return written
    return encode_in_python(record)


@cache
def _header() -> bytes:
    return MAGIC + _schema()[1]


def encode_in_python(record: dict[str, Any]) -> bytes:
    """Single-object encoding of a unified record, in Python.

    Written straight from the record, field by field in the schema's order, without building
    :func:`to_avro`'s intermediate form: every change of a record re-encodes all of it, and
    through fastavro that was a third of the join worker's CPU. Byte for byte what
    :func:`encode_with_fastavro` writes (tests/unit/test_records_codec.py).
    """
    pieces, values = _PIECES, _VALUES
    buf = bytearray(_header())
    write_long(_KINDS[record["kind"]], buf)
    write_string(record["key"], buf)
    status = record.get("status")
    if status is None:
        buf.append(0)
    else:
        buf.append(2)
        write_string(status, buf)
    fields = record["fields"]
    if fields:
        write_long(len(fields), buf)
        for name, src in fields.items():
            buf += pieces[name]
            value = src["value"]
            if type(value) is str:
                buf += values[value]
            else:
                _json(value, buf)
            for part in (src["department"], src["event_id"], src["occurred_at"]):
                buf += pieces[part]
    buf.append(0)
    facts = record["facts"]
    if facts:
        write_long(len(facts), buf)
        for name, fact in facts.items():
            for part in (name, fact["event_id"], fact["occurred_at"]):
                buf += pieces[part]
            write_long(_int(fact["count"]), buf)
    buf.append(0)
    completeness = record["completeness"]
    if completeness:
        buf += _COMPLETENESS[orjson.dumps(completeness)]
    else:
        buf.append(0)
    conflicts = record["conflicts"]
    if conflicts:
        write_long(len(conflicts), buf)
        for conflict in conflicts:
            write_string(conflict["attribute"], buf)
            claimed = conflict["values"]
            if claimed:
                write_long(len(claimed), buf)
                for val in claimed:
                    write_string(val["department"], buf)
                    _json(val["value"], buf)
                    write_string(val["event_id"], buf)
                    write_string(val["occurred_at"], buf)
            buf.append(0)
    buf.append(0)
    history = record["history"]
    if history:
        write_long(len(history), buf)
        for entry in history:
            for part in (entry["event_id"], entry["event_type"], entry["department"],
                         entry["occurred_at"]):
                buf += pieces[part]
    buf.append(0)
    _json({k: v for k, v in record.items() if k not in TYPED}, buf)
    return bytes(buf)


_KINDS = {"enterprise": 0, "property": 1}


def _int(value: Any) -> int:
    if type(value) is not int or not INT_RANGE[0] <= value <= INT_RANGE[1]:
        raise ValueError(f"expected an Avro int, got {value!r}")
    return value


def decode(data: bytes) -> dict[str, Any]:
    """Decode a unified record written by :func:`encode`.

    In C (``_record_codec``) for a well-formed record, else (and if the C part was not built)
    through fastavro (:func:`decode_in_python`), which raises the error that says what is
    wrong: the same record either way.
    """
    if _read_in_c is not None:
        record = _read_in_c(data, _header(), orjson.loads)
        if record is not None:
            return record
    return decode_in_python(data)


def decode_in_python(data: bytes) -> dict[str, Any]:
    """Decode a unified record written by :func:`encode`, through fastavro."""
    header = _header()
    if data[:len(header)] != header:
        raise DecodeError("not a unified record of the known schema (magic or fingerprint)")
    schema = _schema()[0]
    try:
        avro = fastavro.schemaless_reader(io.BytesIO(data[len(header):]), schema, schema)
    except (EOFError, ValueError, IndexError) as exc:
        raise DecodeError(f"truncated or corrupt unified record: {exc}") from exc
    return from_avro(avro)  # type: ignore[arg-type]


def from_table(value: bytes) -> dict[str, Any]:
    """A record as the worker's table holds it: what :func:`encode` wrote (the output topic's
    bytes), or its JSON, as tables were written before (a single-object encoding starts with
    0xC3, JSON with ``{``), so that a changelog of either restores."""
    if value[:1] == b"{":
        return orjson.loads(value)  # type: ignore[no-any-return]
    return decode(value)


def dead_letter_value(dl: DeadLetter, limit: int) -> bytes | None:
    """The original value as the dead letter keeps it: whole up to ``limit`` bytes (the event
    size limit), else its first ``limit`` bytes (``original_size`` header tells), so that an
    oversized message never exceeds the producer's request size when copied here."""
    value = dl.incoming.value
    return value if value is None or len(value) <= limit else value[:limit]


def dead_letter_headers(dl: DeadLetter) -> list[tuple[str, bytes]]:
    """Headers of a dead letter: where it came from and why it could not be applied."""
    inc = dl.incoming
    return [
        ("original_size", str(-1 if inc.value is None else len(inc.value)).encode()),
        ("original_topic", inc.topic.encode()),
        ("original_partition", str(inc.partition).encode()),
        ("original_offset", str(inc.offset).encode()),
        ("error_class", dl.error_class.encode()),
        ("reason", dl.reason.encode("utf-8")[:4000]),
        *[(f"original_{k}", v) for k, v in inc.headers.items() if k in ("event_id", "department",
                                                                         "event_type")],
    ]
