"""Per-field metadata read from the schemas: sharing class, personal data, identifier kind.

Field paths name nested fields with dots and array items with ``[]``: ``envelope.key``,
``owners[].id_number``. Consumers mask or drop fields by these policies; the codec validates
identifier fields by their kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

Sharing = Literal["unconditional", "conditional", "none"]
IdentifierKind = Literal["credit_code", "unit_number", "resident_id", "case_id"]
SHARING_CLASSES: frozenset[str] = frozenset({"unconditional", "conditional", "none"})
IDENTIFIER_KINDS: frozenset[str] = frozenset(
    {"credit_code", "unit_number", "resident_id", "case_id"})


@dataclass(frozen=True, slots=True)
class FieldPolicy:
    """What the schema says about one field (at any depth)."""

    path: str
    sharing: Sharing  # 无条件共享 / 有条件共享 / 不予共享
    personal: bool
    identifier: IdentifierKind | None
    nullable: bool
    doc: str


def _branches(schema: Any) -> list[Any]:
    return schema if isinstance(schema, list) else [schema]


def _non_null(schema: Any) -> list[Any]:
    return [b for b in _branches(schema) if b != "null"]


def collect_field_policies(source: Mapping[str, Any]) -> tuple[dict[str, FieldPolicy], list[str]]:
    """Walk an expanded record schema; return the policies by path and the problems found.

    Every field needs a non-empty ``doc`` and a ``sharing`` class; ``personal`` is a boolean
    when present; ``identifier`` names a known kind and sits on a string field.
    """
    policies: dict[str, FieldPolicy] = {}
    problems: list[str] = []
    records: dict[str, Mapping[str, Any]] = {}

    def visit_record(record: Mapping[str, Any], prefix: str) -> None:
        for field in record.get("fields", []):
            path = f"{prefix}{field.get('name')}"
            visit_field(field, path)

    def visit_field(field: Mapping[str, Any], path: str) -> None:
        doc = field.get("doc")
        if not isinstance(doc, str) or not doc.strip():
            problems.append(f"field {path}: missing \"doc\"")
        sharing = field.get("sharing")
        if sharing not in SHARING_CLASSES:
            problems.append(f"field {path}: \"sharing\" must be one of {sorted(SHARING_CLASSES)}")
            sharing = "none"
        personal = field.get("personal", False)
        if not isinstance(personal, bool):
            problems.append(f"field {path}: \"personal\" must be true or false")
            personal = True
        identifier = field.get("identifier")
        if identifier is not None and (
            identifier not in IDENTIFIER_KINDS or _non_null(field.get("type")) != ["string"]
        ):
            problems.append(f"field {path}: \"identifier\" must be one of "
                            f"{sorted(IDENTIFIER_KINDS)} on a string field")
            identifier = None
        if identifier == "resident_id" and not personal:
            problems.append(f"field {path}: a resident ID is personal data (\"personal\": true)")
        schema = field.get("type")
        nullable = "null" in _branches(schema)
        if nullable and "default" in field and field["default"] is not None:
            problems.append(f"field {path}: a nullable field defaults to null")
        policies[path] = FieldPolicy(
            path=path,
            sharing=cast(Sharing, sharing),
            personal=personal,
            identifier=cast("IdentifierKind | None", identifier),
            nullable=nullable,
            doc=doc if isinstance(doc, str) else "",
        )
        for branch in _non_null(schema):
            visit_type(branch, path)

    def visit_type(schema: Any, path: str) -> None:
        if isinstance(schema, str):
            if schema in records:  # a later use of a named record: same fields, new path
                visit_record(records[schema], f"{path}.")
            return
        if not isinstance(schema, dict):
            return
        kind = schema.get("type")
        if kind in ("record", "error"):
            records[str(schema.get("name"))] = schema
            visit_record(schema, f"{path}.")
        elif kind == "array":
            for branch in _non_null(schema.get("items")):
                visit_type(branch, f"{path}[]")
        elif kind == "map":
            for branch in _non_null(schema.get("values")):
                visit_type(branch, f"{path}{{}}")

    visit_record(source, "")
    return policies, problems
