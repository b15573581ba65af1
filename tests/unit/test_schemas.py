"""The schemas folder and the registry derived from it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from exchange import schemas
from exchange.errors import SchemaError, UnknownSchema
from exchange.schemas import SchemaRegistry, default_registry
from exchange.settings import REPO_ROOT

pytestmark = pytest.mark.unit

SCHEMAS = REPO_ROOT / "schemas"
REGISTRY = SchemaRegistry.load(SCHEMAS)
DEPARTMENTS = ("market", "tax", "realestate", "social", "seal", "bank", "desk")


def design_event_types() -> set[str]:
    """Event types listed in the table of docs/design.md."""
    text = (REPO_ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text.split("## Event types", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z]+\.[a-z_]+)` \|", section, flags=re.MULTILINE))


def schema_files() -> list[Path]:
    """Every current schema of a department or common/ (history and other folders excluded)."""
    return sorted(p for p in SCHEMAS.glob("*/*.avsc")
                  if p.parent.name in (*DEPARTMENTS, "common"))


def walk_fields(schema: Any, path: str = ""):  # type: ignore[no-untyped-def]
    """Yield (path, field) for every field of every record defined inline in ``schema``."""
    if isinstance(schema, list):
        for branch in schema:
            yield from walk_fields(branch, path)
    elif isinstance(schema, dict):
        if schema.get("type") == "record":
            for field in schema["fields"]:
                where = f"{path}{field['name']}"
                yield where, field
                yield from walk_fields(field["type"], f"{where}.")
        elif schema.get("type") == "array":
            yield from walk_fields(schema["items"], path.rstrip(".") + "[].")


def test_schemas_cover_exactly_the_event_types_of_the_design() -> None:
    expected = design_event_types()
    assert len(expected) == 27
    assert set(REGISTRY.event_types()) == expected


@pytest.mark.parametrize("path", schema_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_field_has_doc_and_sharing(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["version"] >= 1
    assert raw["namespace"] == f"gov.exchange.{path.parent.name}"
    assert re.fullmatch(r"[A-Z][A-Za-z]+", raw["name"])
    fields = list(walk_fields(raw))
    assert fields
    for where, field in fields:
        assert isinstance(field.get("doc"), str) and field["doc"].strip(), where
        assert field.get("sharing") in ("unconditional", "conditional", "none"), where
        assert field.get("personal", False) in (True, False), where
        if field.get("identifier") == "resident_id":
            assert field.get("personal") is True, where
        if isinstance(field["type"], list):
            assert field["type"][0] == "null" and field.get("default", "absent") is None, where


def test_shared_types_are_marked_type_only() -> None:
    envelope = json.loads((SCHEMAS / "common" / "envelope.avsc").read_text(encoding="utf-8"))
    owner = json.loads((SCHEMAS / "realestate" / "owner.avsc").read_text(encoding="utf-8"))
    assert envelope["type_only"] is True and owner["type_only"] is True
    assert [f["name"] for f in envelope["fields"]] == [
        "event_id", "department", "occurred_at", "key", "trace_id"]
    assert envelope["fields"][1]["type"]["symbols"] == [
        "MARKET", "TAX", "REALESTATE", "SOCIAL", "SEAL", "BANK", "DESK"]
    assert "realestate.owner" not in REGISTRY.event_types()


def test_topics_and_keys_follow_the_design() -> None:
    assert REGISTRY.topics() == [
        "dept.bank.enterprise", "dept.desk.application", "dept.market.enterprise",
        "dept.realestate.property",
        "dept.seal.enterprise", "dept.social.enterprise", "dept.tax.enterprise",
        "dept.tax.property"]
    assert REGISTRY.topics("property") == ["dept.realestate.property", "dept.tax.property"]
    assert REGISTRY.topics("application") == ["dept.desk.application"]
    assert REGISTRY.event("desk.application_submitted").key_field == "case_id"
    assert "dept.tax.enterprise" in REGISTRY.topics("enterprise")
    assert REGISTRY.topic("tax.property_tax_assessed") == "dept.tax.property"
    assert REGISTRY.topic("tax.taxpayer_registered") == "dept.tax.enterprise"
    assert REGISTRY.event("realestate.unit_registered").key_field == "unit_number"
    assert REGISTRY.event("bank.account_opened").key_kind == "credit_code"
    assert REGISTRY.event_types("seal") == ["seal.seal_engraved"]
    assert REGISTRY.departments() == sorted(DEPARTMENTS)


def test_field_policies_include_nested_paths() -> None:
    policies = REGISTRY.field_policies("realestate.contract_filed")
    id_number = policies["buyers[].id_number"]
    assert (id_number.sharing, id_number.personal, id_number.identifier, id_number.nullable) == (
        "conditional", True, "resident_id", True)
    assert policies["sellers[].credit_code"].identifier == "credit_code"
    assert policies["envelope.key"].sharing == "unconditional"
    assert policies["price"].sharing == "conditional"
    established = REGISTRY.field_policies("market.established")
    assert established["legal_representative_id"].personal
    assert established["legal_representative_id"].identifier == "resident_id"
    assert not established["name"].personal
    assert REGISTRY.field_policies("bank.account_opened")["account_number"].sharing == "conditional"


@pytest.mark.parametrize("event_type", REGISTRY.event_types())
def test_releases_are_self_contained_and_fingerprinted(event_type: str) -> None:
    event = REGISTRY.event(event_type)
    department, name = event_type.split(".")
    released = SCHEMAS / department / "history" / f"{name}.v{event.version}.avsc"
    raw = json.loads(released.read_text(encoding="utf-8"))
    # parses alone: no named type from another file is needed
    canonical = to_parsing_canonical_form(parse_schema(raw))
    assert bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")) == event.fingerprint
    assert event.current.canonical_form == canonical
    assert REGISTRY.by_fingerprint(event.fingerprint).event_type == event_type
    assert event.fingerprint_hex == event.current.fingerprint_hex == event.fingerprint.hex()
    assert len(event.current.fingerprint_hex) == 16


def test_fingerprint_matches_the_avro_spec_algorithm() -> None:
    """CRC-64-AVRO of '"int"' is 8f5c393f1ad57572 (Avro spec test vector, little-endian)."""
    assert fingerprint('"int"', "CRC-64-AVRO") == "8f5c393f1ad57572"


def test_unknown_event_type_and_fingerprint() -> None:
    with pytest.raises(UnknownSchema, match="tax.nothing"):
        REGISTRY.event("tax.nothing")
    with pytest.raises(UnknownSchema, match="ffffffffffffffff"):
        REGISTRY.by_fingerprint(b"\xff" * 8)


def test_default_registry_is_cached_on_settings_schemas_dir(tmp_path: Path) -> None:
    from exchange.settings import load_settings

    assert default_registry() is default_registry()
    assert default_registry().root == SCHEMAS
    assert default_registry(load_settings()) is default_registry()
    shutil.copytree(SCHEMAS, tmp_path / "copy")
    other = default_registry(load_settings(schemas_dir=tmp_path / "copy"))
    assert other is not default_registry() and other.root == tmp_path / "copy"


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, root)
    return root


def _edit(path: Path, change: Any) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")


@pytest.mark.parametrize(("change", "message"), [
    (lambda raw: raw["fields"][2].pop("doc"), "certificate_number: missing \"doc\""),
    (lambda raw: raw["fields"][2].pop("sharing"), "certificate_number: \"sharing\""),
    (lambda raw: raw["fields"][2].update(sharing="public"), "\"sharing\" must be one of"),
    (lambda raw: raw["fields"][2].update(type="gov.exchange.tax.Nothing"), "unknown named type"),
    (lambda raw: raw["fields"][2].update(type="strnig"), "unknown named type 'strnig'"),
    (lambda raw: raw.update(name="Clearance"), "record name must be 'ClearanceIssued'"),
    (lambda raw: raw["fields"].pop(1), "the second field must be the key"),
    (lambda raw: raw.pop("version"), "\"version\""),
    (lambda raw: raw["fields"][2].update(identifier="passport"), "\"identifier\" must be"),
])
def test_malformed_schema_is_named(scratch: Path, change: Any, message: str) -> None:
    _edit(scratch / "tax" / "clearance_issued.avsc", change)
    with pytest.raises(SchemaError, match=re.escape(message)) as info:
        SchemaRegistry.load(scratch)
    assert "clearance_issued.avsc" in str(info.value)


def test_unreadable_json_is_named(scratch: Path) -> None:
    (scratch / "tax" / "clearance_issued.avsc").write_text("{not json", encoding="utf-8")
    with pytest.raises(SchemaError, match="clearance_issued.avsc: not readable JSON"):
        SchemaRegistry.load(scratch)


def test_changing_a_released_schema_without_a_new_version_is_refused(scratch: Path) -> None:
    _edit(scratch / "tax" / "clearance_issued.avsc", lambda raw: raw["fields"].append(
        {"name": "remark", "type": ["null", "string"], "default": None, "doc": "Remark.",
         "sharing": "none"}))
    with pytest.raises(SchemaError, match="bump \"version\""):
        SchemaRegistry.load(scratch)


def test_release_writes_the_next_version(scratch: Path) -> None:
    path = scratch / "tax" / "clearance_issued.avsc"
    _edit(path, lambda raw: (raw.update(version=2), raw["fields"].append(
        {"name": "remark", "type": ["null", "string"], "default": None, "doc": "Remark.",
         "sharing": "none"})))
    with pytest.raises(SchemaError, match="version 2 is not released"):
        SchemaRegistry.load(scratch)
    target = schemas.release(scratch, "tax.clearance_issued")
    assert target.name == "clearance_issued.v2.avsc"
    assert schemas.release(scratch, "tax.clearance_issued") == target  # idempotent
    registry = SchemaRegistry.load(scratch)
    event = registry.event("tax.clearance_issued")
    assert [v.version for v in event.versions] == [1, 2]
    assert registry.by_fingerprint(event.versions[0].fingerprint).version == 1
    assert len(registry.fingerprints()) == len(REGISTRY.fingerprints()) + 1


def test_history_gap_is_refused(scratch: Path) -> None:
    history = scratch / "tax" / "history"
    shutil.copy(history / "clearance_issued.v1.avsc", history / "clearance_issued.v3.avsc")
    _edit(history / "clearance_issued.v3.avsc", lambda raw: raw.update(version=3))
    with pytest.raises(SchemaError, match="without gaps"):
        SchemaRegistry.load(scratch)


def test_non_department_folders_are_ignored(scratch: Path) -> None:
    (scratch / "exchange").mkdir(exist_ok=True)
    (scratch / "exchange" / "other.avsc").write_text(
        json.dumps({"type": "record", "name": "Other", "fields": []}), encoding="utf-8")
    assert SchemaRegistry.load(scratch).event_types() == REGISTRY.event_types()
