"""Reading schema files: JSON, shared named types, expansion, parsing and fingerprints.

Expansion makes each event schema self-contained: the first use of a shared named type (the
Envelope, the Owner) is replaced by its full definition, later uses stay references by name.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from exchange.errors import SchemaError

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
ENVELOPE = "gov.exchange.common.Envelope"


def read_json(file: Path) -> dict[str, Any]:
    """The JSON of a schema file whose top level is a record; :class:`SchemaError` if not."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"{file}: not readable JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("type") != "record":
        raise SchemaError(f"{file}: the top level must be an Avro record")
    return raw


def department_folders(shared: Mapping[str, Any], root: Path) -> set[str]:
    """Folder names of departments: the lower-cased symbols of the envelope's Department."""
    envelope = shared.get(ENVELOPE)
    if envelope is None:
        raise SchemaError(f"{root}/common/envelope.avsc must define {ENVELOPE}")
    for field in envelope.get("fields", []):
        if field.get("name") == "department" and isinstance(field.get("type"), dict):
            return {str(symbol).lower() for symbol in field["type"].get("symbols", [])}
    raise SchemaError(f"{ENVELOPE} has no 'department' enum field")


def fullname(raw: Mapping[str, Any], namespace: str | None) -> str:
    """The full name of a named type defined in ``namespace``."""
    name = str(raw["name"])
    if "." in name:
        return name
    ns = raw.get("namespace", namespace)
    return f"{ns}.{name}" if ns else name


def load_shared_types(root: Path) -> dict[str, dict[str, Any]]:
    """Named types from ``common/`` and the ``type_only`` files, by full name."""
    shared: dict[str, dict[str, Any]] = {}
    files = sorted(root.glob("common/*.avsc")) + sorted(
        f for f in root.glob("*/*.avsc") if f.parent.name != "common"
    )
    for file in files:
        raw = read_json(file)
        if file.parent.name != "common" and not raw.get("type_only"):
            continue
        definition = {k: v for k, v in raw.items() if k not in ("version", "type_only")}
        definition["name"] = fullname(raw, None)
        definition.pop("namespace", None)
        shared[definition["name"]] = definition
    return shared


def expand(raw: Mapping[str, Any], shared: Mapping[str, Any], where: Path) -> dict[str, Any]:
    """Copy of ``raw`` where the first use of each shared named type is its definition."""
    defined: set[str] = set()

    def walk(node: Any, namespace: str | None) -> Any:
        if isinstance(node, list):
            return [walk(branch, namespace) for branch in node]
        if isinstance(node, str):
            if node in PRIMITIVES:
                return node
            full = node if "." in node or not namespace else f"{namespace}.{node}"
            if full in defined:
                return full
            if full not in shared:
                raise SchemaError(f"{where}: unknown named type {node!r}")
            return walk(copy.deepcopy(shared[full]), namespace)
        if not isinstance(node, dict):
            raise SchemaError(f"{where}: not an Avro schema: {node!r}")
        out = dict(node)
        kind = node.get("type")
        if kind in ("record", "error", "enum", "fixed"):
            full = fullname(node, namespace)
            defined.add(full)
            inner_ns = full.rpartition(".")[0] or None
            if kind in ("record", "error"):
                out["fields"] = [
                    {**field, "type": walk(field["type"], inner_ns)} for field in node["fields"]
                ]
        elif kind == "array":
            out["items"] = walk(node["items"], namespace)
        elif kind == "map":
            out["values"] = walk(node["values"], namespace)
        elif not (isinstance(kind, str) and kind in PRIMITIVES):
            return walk(kind, namespace)  # {"type": "Some.Named"} or {"type": [...]}
        return out

    result = walk(dict(raw), None)
    assert isinstance(result, dict)
    return result


def parse_and_fingerprint(source: Mapping[str, Any], file: Path) -> tuple[Any, str, bytes]:
    """fastavro-parsed schema, Parsing Canonical Form, CRC-64-AVRO fingerprint (wire order)."""
    try:
        parsed = parse_schema(copy.deepcopy(dict(source)))
        canonical = to_parsing_canonical_form(parsed)
    except Exception as exc:  # fastavro raises SchemaParseException, ValueError, TypeError...
        raise SchemaError(f"{file}: not a valid Avro schema: {exc}") from exc
    return parsed, canonical, bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
