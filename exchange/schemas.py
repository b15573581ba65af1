"""The schema registry: the Avro schemas under ``schemas/`` loaded, checked and indexed.

Layout (the schemas are the source of truth; everything here is derived from them)::

    schemas/common/*.avsc                      shared named types (the Envelope)
    schemas/<department>/<event>.avsc          current schema of event type <department>.<event>
    schemas/<department>/<type>.avsc           shared named type when marked "type_only": true
    schemas/<department>/history/<event>.v<N>.avsc   released versions, kept forever

Every event schema is expanded into a self-contained form (the first use of a shared named type
carries its full definition), so its Parsing Canonical Form and CRC-64-AVRO fingerprint do not
depend on files other than itself, and a released version stays readable after the shared
types evolve.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from exchange.errors import SchemaError, UnknownSchema
from exchange.schema_fields import FieldPolicy, collect_field_policies
from exchange.schema_files import (
    ENVELOPE,
    department_folders,
    expand,
    load_shared_types,
    parse_and_fingerprint,
    read_json,
)
from exchange.settings import Settings, load_settings

# key identifier -> key kind, the last part of the topic name (dept.<department>.<kind>);
# "application": the desks' own one-form events, keyed by case id (not joined by the worker)
KEY_KINDS = {"credit_code": "enterprise", "unit_number": "property", "case_id": "application"}
_HISTORY_NAME = re.compile(r"^(?P<event>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.avsc$")
_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One released (or the current) version of an event type's schema."""

    event_type: str
    version: int
    schema: Any  # fastavro parsed schema
    canonical_form: str
    fingerprint: bytes  # 8 bytes, little-endian, as on the wire
    path: Path

    @property
    def fingerprint_hex(self) -> str:
        """The fingerprint as 16 hex digits in wire order (the ``schema_fingerprint`` header)."""
        return self.fingerprint.hex()


@dataclass(frozen=True, slots=True)
class EventSchema:
    """Everything derived from the current schema of one event type."""

    event_type: str
    department: str
    version: int
    topic: str
    key_field: str
    key_kind: str
    source: Mapping[str, Any]  # expanded, self-contained JSON form (as written to history)
    current: SchemaVersion
    fields: Mapping[str, FieldPolicy]
    versions: tuple[SchemaVersion, ...]  # released versions, oldest first

    @property
    def schema(self) -> Any:
        """The parsed current (reader and writer) schema."""
        return self.current.schema

    @property
    def fingerprint(self) -> bytes:
        """Fingerprint of the current schema (8 bytes, wire order)."""
        return self.current.fingerprint

    @property
    def fingerprint_hex(self) -> str:
        """The current fingerprint as 16 hex digits (the ``schema_fingerprint`` header)."""
        return self.current.fingerprint.hex()


class SchemaRegistry:
    """The loaded schemas, indexed by event type and by writer fingerprint."""

    def __init__(self, root: Path, events: Mapping[str, EventSchema]) -> None:
        self.root = root
        self._events = dict(events)
        self._by_fp: dict[bytes, SchemaVersion] = {}
        for event in self._events.values():
            for sv in (*event.versions, event.current):
                other = self._by_fp.get(sv.fingerprint)
                if other is not None and other.event_type != sv.event_type:
                    raise SchemaError(
                        f"fingerprint {sv.fingerprint_hex} of {sv.path} collides with {other.path}"
                    )
                if other is None or sv.path.parent.name == "history":
                    self._by_fp[sv.fingerprint] = sv

    @classmethod
    def load(cls, path: Path | str, *, require_released: bool = True) -> SchemaRegistry:
        """Load, expand, parse and check every schema under ``path``.

        With ``require_released`` (the default) the current schema of each event type must be
        released: ``history/<event>.v<version>.avsc`` exists with the same canonical form.
        Raises :class:`SchemaError` naming the file and the problem.
        """
        root = Path(path)
        if not root.is_dir():
            raise SchemaError(f"schema folder {root} does not exist")
        shared = load_shared_types(root)
        departments = department_folders(shared, root)
        events: dict[str, EventSchema] = {}
        for file in sorted(root.glob("*/*.avsc")):
            department = file.parent.name
            if department not in departments:
                continue  # common/ and non-department schemas (e.g. the worker's output)
            raw = read_json(file)
            if raw.get("type_only"):
                continue
            event = _build_event(root, department, file, raw, shared, require_released)
            events[event.event_type] = event
        if not events:
            raise SchemaError(f"no event schemas found under {root}")
        return cls(root, events)

    def event(self, event_type: str) -> EventSchema:
        """The event type's schema and metadata; :class:`UnknownSchema` if there is none."""
        try:
            return self._events[event_type]
        except KeyError:
            raise UnknownSchema(
                f"unknown event type {event_type!r}: no schema "
                f"{self.root}/{event_type.replace('.', '/', 1)}.avsc"
            ) from None

    def by_fingerprint(self, fp: bytes) -> SchemaVersion:
        """The writer schema of a fingerprint (any released version of any event type)."""
        try:
            return self._by_fp[fp]
        except KeyError:
            raise UnknownSchema(
                f"unknown writer schema fingerprint {fp.hex()}: no released version has it"
            ) from None

    def fingerprints(self) -> Mapping[bytes, SchemaVersion]:
        """Every known writer fingerprint, current and released."""
        return MappingProxyType(self._by_fp)

    def event_types(self, department: str | None = None) -> list[str]:
        """Event types, sorted; only those of ``department`` when given."""
        return sorted(
            et for et, ev in self._events.items() if department in (None, ev.department)
        )

    def departments(self) -> list[str]:
        """Departments that publish at least one event type."""
        return sorted({ev.department for ev in self._events.values()})

    def topics(self, kind: str | None = None) -> list[str]:
        """Department topics (``dept.<department>.<kind>``), sorted; only ``kind``'s if given.

        ``kind`` is ``"enterprise"`` (keyed by credit code), ``"property"`` (unit number) or
        ``"application"`` (the desks' one-form events, keyed by case id).
        """
        return sorted({ev.topic for ev in self._events.values()
                       if kind in (None, KEY_KINDS[ev.key_kind])})

    def topic(self, event_type: str) -> str:
        """The topic an event type is published on."""
        return self.event(event_type).topic

    def field_policies(self, event_type: str) -> Mapping[str, FieldPolicy]:
        """Sharing class, personal flag and identifier kind per field path (``owners[].name``)."""
        return self.event(event_type).fields


def default_registry(settings: Settings | None = None) -> SchemaRegistry:
    """The registry of ``settings.schemas_dir`` (default: the environment's settings).

    Loaded on first use and cached per folder; nothing is read at import time.
    """
    directory = settings.schemas_dir if settings is not None else _env_settings().schemas_dir
    return _registry_at(Path(directory))


@functools.lru_cache(maxsize=1)
def _env_settings() -> Settings:
    return load_settings()


@functools.lru_cache(maxsize=8)
def _registry_at(directory: Path) -> SchemaRegistry:
    return SchemaRegistry.load(directory)


def release(root: Path | str, event_type: str) -> Path:
    """Write the current schema of ``event_type`` as its released version into ``history/``.

    Idempotent when that version is already released with the same canonical form; a
    :class:`SchemaError` when it was released differently (bump ``version`` instead).
    """
    registry = SchemaRegistry.load(root, require_released=False)
    event = registry.event(event_type)
    department, name = event_type.split(".", 1)
    target = Path(root) / department / "history" / f"{name}.v{event.version}.avsc"
    for sv in event.versions:
        if sv.version == event.version:
            if sv.fingerprint != event.fingerprint:
                raise SchemaError(
                    f"{target} is already released with another canonical form: "
                    f"bump \"version\" of {event.current.path} instead of changing a release"
                )
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(dict(event.source), ensure_ascii=False, indent=2) + "\n"
    target.write_text(text, encoding="utf-8")
    return target


def _build_event(
    root: Path,
    department: str,
    file: Path,
    raw: dict[str, Any],
    shared: Mapping[str, Any],
    require_released: bool,
) -> EventSchema:
    name = file.stem
    event_type = f"{department}.{name}"
    problems: list[str] = []
    if not _EVENT_NAME.match(name) or not _EVENT_NAME.match(department):
        problems.append("file and folder names must be lower_snake_case")
    expected_name = "".join(part.capitalize() for part in name.split("_"))
    if raw.get("name") != expected_name:
        problems.append(f"record name must be {expected_name!r}, is {raw.get('name')!r}")
    if raw.get("namespace") != f"gov.exchange.{department}":
        problems.append(f"namespace must be 'gov.exchange.{department}'")
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problems.append('top-level "version" must be an integer >= 1')
        version = 0
    source = expand(raw, shared, file)
    fields = source.get("fields", [])
    envelope_type = fields[0].get("type") if fields else None
    if not fields or fields[0].get("name") != "envelope" or not (
        isinstance(envelope_type, dict) and envelope_type.get("name") == ENVELOPE
    ):
        problems.append(f"the first field must be 'envelope' of type {ENVELOPE}")
    key_field = fields[1] if len(fields) > 1 else {}
    key_kind = key_field.get("identifier")
    if key_kind not in KEY_KINDS or key_field.get("type") != "string":
        problems.append("the second field must be the key: a string with identifier "
                        "'credit_code', 'unit_number' or 'case_id'")
    policies, field_problems = collect_field_policies(source)
    problems.extend(field_problems)
    if problems:
        raise SchemaError(f"{file}: " + "; ".join(problems))
    parsed, canonical, fp = parse_and_fingerprint(source, file)
    current = SchemaVersion(event_type, version, parsed, canonical, fp, file)
    versions = _load_history(root / department / "history", name, event_type, shared)
    released = [sv.version for sv in versions]
    if released != list(range(1, len(released) + 1)):
        problems.append(f"released versions must be v1..vN without gaps, found {released}")
    if released and released[-1] > version:
        problems.append(f"history has v{released[-1]} but the current schema is v{version}")
    if require_released:
        match = [sv for sv in versions if sv.version == version]
        if not match:
            problems.append(f"version {version} is not released: run "
                            f"exchange.schemas.release(root, {event_type!r})")
        elif match[0].fingerprint != fp:
            problems.append(f"differs from its release {match[0].path.name}: "
                            f"bump \"version\" instead of changing a released schema")
    if problems:
        raise SchemaError(f"{file}: " + "; ".join(problems))
    return EventSchema(
        event_type=event_type,
        department=department,
        version=version,
        topic=f"dept.{department}.{KEY_KINDS[str(key_kind)]}",
        key_field=str(key_field["name"]),
        key_kind=str(key_kind),
        source=MappingProxyType(source),
        current=current,
        fields=MappingProxyType(policies),
        versions=tuple(versions),
    )


def _load_history(
    folder: Path, name: str, event_type: str, shared: Mapping[str, Any]
) -> list[SchemaVersion]:
    versions: list[SchemaVersion] = []
    for file in sorted(folder.glob(f"{name}.v*.avsc")):
        m = _HISTORY_NAME.match(file.name)
        if not m or m["event"] != name:
            continue
        raw = read_json(file)
        number = int(m["version"])
        if raw.get("version") != number:
            raise SchemaError(f"{file}: \"version\" must be {number} as in the file name")
        parsed, canonical, fp = parse_and_fingerprint(expand(raw, shared, file), file)
        versions.append(SchemaVersion(event_type, number, parsed, canonical, fp, file))
    return sorted(versions, key=lambda sv: sv.version)
