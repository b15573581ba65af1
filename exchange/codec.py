"""Avro single-object encoding of department events, with validation before anything is sent.

Wire format (Avro spec, "Single object encoding"): ``C3 01``, the 8-byte little-endian
CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form, the Avro binary body.

Encoding runs one validating writer compiled per schema (:mod:`exchange.avro_writer`): type,
range, enum, decimal scale/precision, unknown and missing fields, identifier and UUID rules are
checked while the bytes are written, then the envelope's department and key. Schemas using
constructs that writer does not compile fall back to fastavro's writer plus
:mod:`exchange.codec_rules`. Decoding and the Avro JSON form use fastavro. Library errors
become :class:`ValidationError`, :class:`DecodeError` or :class:`UnknownSchema`.

Typical use: ``encode(event_type, record)``, ``decode(data)``; pass ``registry=`` and
``settings=`` to use other schemas or limits than the environment's.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastavro import json_reader, json_writer, schemaless_reader, schemaless_writer

from exchange.avro_writer import Writer, compile_writer
from exchange.codec_rules import Check, Invalid, compile_checks, explain, show
from exchange.errors import DecodeError, UnknownSchema, ValidationError
from exchange.schemas import EventSchema, SchemaRegistry, default_registry
from exchange.settings import Settings, load_settings

__all__ = [
    "MAGIC", "Codec", "DecodeError", "UnknownSchema", "ValidationError", "codec_for", "decode",
    "encode", "from_json", "to_json", "validate", "validate_identifiers",
]

MAGIC = b"\xc3\x01"
HEADER_BYTES = 10


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything encode needs for one event type, computed once."""

    event: EventSchema
    header: bytes
    writer: Writer | None  # compiled validating writer; None: fastavro + check
    check: Check
    department_symbol: str


class Codec:
    """Encoder/decoder bound to one schema registry and one size limit."""

    def __init__(self, registry: SchemaRegistry, max_event_bytes: int = 512 * 1024) -> None:
        self.registry = registry
        self.max_event_bytes = max_event_bytes
        self._plans: dict[str, _Plan] = {}
        self._identifier_checks: dict[str, Check] = {}
        # fingerprint -> (event type, writer schema, reader schema or None when identical)
        self._readers: dict[bytes, tuple[str, Any, Any]] = {}
        for fp, sv in registry.fingerprints().items():
            current = registry.event(sv.event_type)
            reader = None if fp == current.fingerprint else current.schema
            self._readers[fp] = (sv.event_type, sv.schema, reader)

    def _plan(self, event_type: str) -> _Plan:
        plan = self._plans.get(event_type)
        if plan is None:
            event = self.registry.event(event_type)
            plan = _Plan(event, MAGIC + event.fingerprint, compile_writer(event.source),
                         compile_checks(event.source), event.department.upper())
            self._plans[event_type] = plan
        return plan

    def encode(self, event_type: str, record: Mapping[str, Any]) -> bytes:
        """Validate ``record`` and return its single-object encoding.

        Raises :class:`ValidationError` (field path and rule) or :class:`UnknownSchema`.
        """
        plan = self._plans.get(event_type) or self._plan(event_type)
        if plan.writer is not None:
            buf = bytearray(plan.header)
            try:
                plan.writer(record, buf)
            except Invalid as exc:
                raise ValidationError(event_type, exc.field() or "<record>", exc.rule) from exc
            data = bytes(buf)
        else:
            data = self._encode_fastavro(plan, record)
        self._check_envelope(plan, record)
        if len(data) > self.max_event_bytes:
            raise ValidationError(event_type, "<event>", f"encoded size {len(data)} bytes "
                                  f"exceeds the limit of {self.max_event_bytes} bytes")
        return data

    def validate(self, event_type: str, record: Mapping[str, Any]) -> None:
        """Every check :meth:`encode` makes, without keeping the bytes."""
        self.encode(event_type, record)

    def validate_identifiers(self, event_type: str, record: Mapping[str, Any]) -> None:
        """Check only the identifier fields (for decoded records, which conform already).

        Raises :class:`ValidationError` naming the field path; its ``__cause__`` chain holds
        the :class:`~exchange.errors.InvalidIdentifier`. A consumer quarantines such facts.
        """
        check = self._identifier_checks.get(event_type)
        if check is None:
            source = self.registry.event(event_type).source
            check = self._identifier_checks[event_type] = compile_checks(
                source, identifiers_only=True)
        try:
            check(record)
        except Invalid as exc:
            raise ValidationError(event_type, exc.field(), exc.rule) from exc

    def _encode_fastavro(self, plan: _Plan, record: Mapping[str, Any]) -> bytes:
        buffer = io.BytesIO()
        buffer.write(plan.header)
        try:
            schemaless_writer(buffer, plan.event.schema, record, strict_allow_default=True)
        except Exception as exc:  # fastavro raises TypeError/ValueError/AttributeError...
            raise self._refused(plan.event, record, exc) from exc
        try:
            plan.check(record)
        except Invalid as exc:
            raise ValidationError(plan.event.event_type, exc.field(), exc.rule) from exc
        return buffer.getvalue()

    def _check_envelope(self, plan: _Plan, record: Mapping[str, Any]) -> None:
        event_type = plan.event.event_type
        envelope = record["envelope"]
        if envelope["department"] != plan.department_symbol:
            raise ValidationError(event_type, "envelope.department", f"must be "
                                  f"{plan.department_symbol}, got {show(envelope['department'])}")
        key_field = plan.event.key_field
        if envelope["key"] != record[key_field]:
            raise ValidationError(event_type, "envelope.key", f"must equal {key_field} "
                                  f"{show(record[key_field])}, got {show(envelope['key'])}")

    def _refused(self, event: EventSchema, record: Any, exc: Exception) -> ValidationError:
        problem = explain(dict(event.source), record)
        if problem is not None:
            return ValidationError(event.event_type, problem.field() or "<record>", problem.rule)
        # explain() found nothing: keep fastavro's words, naming the field it named.
        message = str(exc)
        field = message.rsplit(" on field ", 1)[1] if " on field " in message else "<record>"
        return ValidationError(event.event_type, field, message)

    def decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """Return ``(event_type, record)`` read with the current schema of its event type.

        Raises :class:`DecodeError` (bad magic, truncated or corrupt body, trailing bytes) or
        :class:`UnknownSchema` (a writer fingerprint no released version has); a message
        beyond the size limit is a :class:`DecodeError` too, unread, as :meth:`encode` refuses it.
        """
        if len(data) > self.max_event_bytes:
            raise DecodeError(f"message of {len(data)} bytes exceeds the limit of "
                              f"{self.max_event_bytes} bytes (EXCHANGE_MAX_EVENT_BYTES); not read")
        if len(data) < HEADER_BYTES or data[:2] != MAGIC:
            raise DecodeError(f"not an Avro single-object message: expected magic c301 and a "
                              f"{HEADER_BYTES}-byte header, got {bytes(data[:HEADER_BYTES]).hex()}")
        fp = bytes(data[2:HEADER_BYTES])
        entry = self._readers.get(fp)
        if entry is None:
            raise UnknownSchema(f"unknown writer schema fingerprint {fp.hex()}: "
                                "no released version of any event type has it")
        event_type, writer, reader = entry
        stream = io.BytesIO(data)
        stream.seek(HEADER_BYTES)
        try:
            record = schemaless_reader(stream, writer, reader)
        except Exception as exc:  # EOFError, IndexError, ValueError, SchemaResolutionError...
            raise DecodeError(f"{event_type} (writer fingerprint {fp.hex()}): body could not "
                              f"be read ({type(exc).__name__}: {exc}); truncated or corrupt "
                              "message?") from exc
        if stream.tell() != len(data):
            raise DecodeError(f"{event_type}: {len(data) - stream.tell()} trailing bytes after "
                              "the Avro body; corrupt message?")
        assert isinstance(record, dict)
        return event_type, record

    def to_json(self, event_type: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """The Avro JSON encoding of a record (unions as ``{"type": value}``, bytes as text)."""
        event = self.registry.event(event_type)
        out = io.StringIO()
        try:
            json_writer(out, event.schema, [record])
        except Exception as exc:
            raise self._refused(event, record, exc) from exc
        result = json.loads(out.getvalue())
        assert isinstance(result, dict)
        return result

    def from_json(self, event_type: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Read a record from its Avro JSON encoding (the ``exchange publish`` input form)."""
        event = self.registry.event(event_type)
        if not isinstance(obj, Mapping):
            raise ValidationError(event_type, "<record>",
                                  f"expected a JSON object, got {show(obj)}")
        known = {field["name"] for field in event.source["fields"]}
        for name in obj:
            if name not in known:
                raise ValidationError(event_type, str(name), "not a field of the schema")
        try:
            records = list(json_reader(io.StringIO(json.dumps(obj)), event.schema))
        except Exception as exc:
            missing = [f["name"] for f in event.source["fields"]
                       if f["name"] not in obj and "default" not in f]
            field = missing[0] if missing else "<record>"
            rule = "missing (required, no default)" if missing else (
                f"not in Avro JSON form ({type(exc).__name__}: {exc})")
            raise ValidationError(event_type, field, rule) from exc
        record = records[0]
        assert isinstance(record, dict)
        return record


# (id(registry), size limit) -> (registry, codec); holding the registry keeps its id unique.
_CODECS: dict[tuple[int, int], tuple[SchemaRegistry, Codec]] = {}
_MAX_CODECS = 64


def codec_for(registry: SchemaRegistry | None = None, settings: Settings | None = None) -> Codec:
    """The codec of ``registry`` (default: the settings' schemas) and the settings' size limit.

    Codecs are built once per registry and limit and reused: their plans are the hot path.
    """
    if registry is None:
        if settings is None:
            return _default_codec()
        registry = default_registry(settings)
    limit = (settings if settings is not None else _default_settings()).max_event_bytes
    entry = _CODECS.get((id(registry), limit))
    if entry is None:
        if len(_CODECS) >= _MAX_CODECS:
            _CODECS.clear()
        entry = _CODECS[(id(registry), limit)] = (registry, Codec(registry, limit))
    return entry[1]


@functools.lru_cache(maxsize=1)
def _default_settings() -> Settings:
    return load_settings()


@functools.lru_cache(maxsize=1)
def _default_codec() -> Codec:
    return codec_for(default_registry(), _default_settings())


def encode(event_type: str, record: Mapping[str, Any], *, registry: SchemaRegistry | None = None,
           settings: Settings | None = None) -> bytes:
    """:meth:`Codec.encode` with :func:`codec_for` ``(registry, settings)``."""
    return codec_for(registry, settings).encode(event_type, record)


def decode(data: bytes, *, registry: SchemaRegistry | None = None,
           settings: Settings | None = None) -> tuple[str, dict[str, Any]]:
    """:meth:`Codec.decode` with :func:`codec_for` ``(registry, settings)``."""
    return codec_for(registry, settings).decode(data)


def validate(event_type: str, record: Mapping[str, Any], *,
             registry: SchemaRegistry | None = None, settings: Settings | None = None) -> None:
    """:meth:`Codec.validate` with :func:`codec_for` ``(registry, settings)``."""
    codec_for(registry, settings).validate(event_type, record)


def validate_identifiers(event_type: str, record: Mapping[str, Any], *,
                         registry: SchemaRegistry | None = None) -> None:
    """:meth:`Codec.validate_identifiers` with the codec of ``registry``."""
    codec_for(registry).validate_identifiers(event_type, record)


def to_json(event_type: str, record: Mapping[str, Any], *,
            registry: SchemaRegistry | None = None) -> dict[str, Any]:
    """:meth:`Codec.to_json` with the codec of ``registry``."""
    return codec_for(registry).to_json(event_type, record)


def from_json(event_type: str, obj: Mapping[str, Any], *,
              registry: SchemaRegistry | None = None) -> dict[str, Any]:
    """:meth:`Codec.from_json` with the codec of ``registry``."""
    return codec_for(registry).from_json(event_type, obj)
