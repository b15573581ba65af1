"""BACKWARD_TRANSITIVE: the repository's schemas, in-test variants, and a real v2 on disk."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema
from schema_samples import sample_record

from exchange import schemas
from exchange.codec import Codec
from exchange.compat import backward_problems, check_registry
from exchange.errors import SchemaError, UnknownSchema
from exchange.schemas import SchemaRegistry
from exchange.settings import REPO_ROOT

pytestmark = pytest.mark.unit

ENUM = {"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]}
DECIMAL = {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}
OWNER = {"type": "record", "name": "Owner", "fields": [{"name": "name", "type": "string"}]}
BASE: dict[str, Any] = {
    "type": "record", "name": "Event", "namespace": "gov.exchange.test",
    "fields": [
        {"name": "code", "type": "string"},
        {"name": "count", "type": "int"},
        {"name": "kind", "type": ENUM},
        {"name": "amount", "type": DECIMAL},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "owners", "type": {"type": "array", "items": OWNER}},
        {"name": "sellers", "type": {"type": "array", "items": "Owner"}},
    ],
}


def variant(change: Any) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    change(schema)
    return schema


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def problems(reader: dict[str, Any], writer: dict[str, Any] = BASE) -> list[str]:
    return backward_problems(parse_schema(copy.deepcopy(writer)),
                             parse_schema(copy.deepcopy(reader)))


def test_repository_schemas_are_backward_transitive() -> None:
    assert check_registry(SchemaRegistry.load(REPO_ROOT / "schemas")) == []


def test_identical_schema_is_compatible() -> None:
    assert problems(BASE) == []


COMPATIBLE = {
    "new field with default": lambda s: s["fields"].append(
        {"name": "extra", "type": ["null", "string"], "default": None}),
    "field removed": lambda s: s["fields"].pop(1),
    "int promoted to long": lambda s: field(s, "count").update(type="long"),
    "int promoted to double": lambda s: field(s, "count").update(type="double"),
    "string to bytes": lambda s: field(s, "code").update(type="bytes"),
    "enum symbol added": lambda s: field(s, "kind")["type"]["symbols"].append("D"),
    "enum symbol removed with a default": lambda s: field(s, "kind").update(
        type={**ENUM, "symbols": ["A", "B"], "default": "A"}),
    "made nullable": lambda s: field(s, "code").update(type=["null", "string"], default=None),
    "renamed with alias": lambda s: field(s, "count").update(name="total", aliases=["count"]),
    "decimal precision widened": lambda s: field(s, "amount").update(
        type={**DECIMAL, "precision": 20}),
    "nested field added with default": lambda s: field(s, "owners")["type"]["items"][
        "fields"].append({"name": "share", "type": "int", "default": 100}),
}


@pytest.mark.parametrize("change", COMPATIBLE.values(), ids=COMPATIBLE.keys())
def test_compatible_changes(change: Any) -> None:
    assert problems(variant(change)) == []


INCOMPATIBLE = {
    "new field without default": (lambda s: s["fields"].append(
        {"name": "extra", "type": "string"}), "extra: field added without a default"),
    "enum symbol removed": (lambda s: field(s, "kind")["type"].update(symbols=["A", "B"]),
                            "kind: enum gov.exchange.test.Kind lost symbol(s) C"),
    "string to int": (lambda s: field(s, "code").update(type="int"),
                      "code: type changed from string to int"),
    "long narrowed to int": (lambda s: field(s, "count").update(type="boolean"),
                             "count: type changed from int to boolean"),
    "nullable made required": (lambda s: (field(s, "note").update(type="string"),
                                          field(s, "note").pop("default")),
                               "note: writer union branch null cannot be read as string"),
    "decimal scale changed": (lambda s: field(s, "amount").update(type={**DECIMAL, "scale": 3}),
                              "amount: decimal scale changed 2 -> 3"),
    "decimal precision reduced": (lambda s: field(s, "amount").update(
        type={**DECIMAL, "precision": 10}), "amount: decimal precision reduced 18 -> 10"),
    "date became plain int": (lambda s: field(s, "day").update(type="int"),
                              "day: logical type changed from date to none"),
    "record renamed": (lambda s: s.update(name="Other"), "record name changed"),
    "nested field without default": (lambda s: field(s, "owners")["type"]["items"][
        "fields"].append({"name": "share", "type": "int"}),
        "owners[].share: field added without a default"),
    "named reference changed": (lambda s: field(s, "owners")["type"]["items"]["fields"][0]
                                .update(type="int"), "owners[].name: type changed"),
}


@pytest.mark.parametrize(("change", "message"), INCOMPATIBLE.values(), ids=INCOMPATIBLE.keys())
def test_incompatible_changes_are_detected(change: Any, message: str) -> None:
    found = problems(variant(change))
    assert any(message in p for p in found), found


def test_reference_to_named_type_is_followed() -> None:
    """sellers uses Owner by name: a change to Owner is found under both paths."""
    reader = variant(lambda s: field(s, "owners")["type"]["items"]["fields"].append(
        {"name": "share", "type": "int"}))
    found = problems(reader)
    assert any(p.startswith("owners[].share") for p in found)
    assert any(p.startswith("sellers[].share") for p in found)


def test_recursive_types_terminate() -> None:
    node = {"type": "record", "name": "Node", "fields": [
        {"name": "next", "type": ["null", "Node"], "default": None}]}
    assert problems(node, node) == []


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", root)
    return root


def _write_version(root: Path, version: int, new_field: dict[str, Any]) -> None:
    path = root / "tax" / "clearance_issued.avsc"
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["version"] = version
    raw["fields"].append(new_field)
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    schemas.release(root, "tax.clearance_issued")


def test_real_v2_on_disk_reads_v1_messages_and_v3_breaking_change_is_detected(
    scratch: Path,
) -> None:
    v1_codec = Codec(SchemaRegistry.load(scratch))
    record = sample_record(v1_codec.registry.event("tax.clearance_issued"))
    v1_message = v1_codec.encode("tax.clearance_issued", record)

    _write_version(scratch, 2, {"name": "issuing_office", "type": ["null", "string"],
                                "default": None, "doc": "Tax office that issued it.",
                                "sharing": "unconditional"})
    v2_registry = SchemaRegistry.load(scratch)
    assert check_registry(v2_registry) == []
    v2_codec = Codec(v2_registry)
    # a message written with v1 decodes with the v2 reader; the new field takes its default
    assert v2_codec.decode(v1_message) == ("tax.clearance_issued", {**record,
                                                                    "issuing_office": None})
    v2_message = v2_codec.encode("tax.clearance_issued", {**record, "issuing_office": "成都"})
    assert v2_message[2:10] != v1_message[2:10]
    # a reader that only knows v1 names the fingerprint it has never seen
    with pytest.raises(UnknownSchema, match=v2_message[2:10].hex()):
        v1_codec.decode(v2_message)

    _write_version(scratch, 3, {"name": "stamp", "type": "string",
                                "doc": "Required and without a default.", "sharing": "none"})
    found = check_registry(SchemaRegistry.load(scratch))
    assert found == [
        "tax.clearance_issued v3 cannot read v1: stamp: field added without a default; "
        "data written by this version lacks it",
        "tax.clearance_issued v3 cannot read v2: stamp: field added without a default; "
        "data written by this version lacks it",
    ]


def test_released_schema_cannot_be_rewritten(scratch: Path) -> None:
    _write_version(scratch, 2, {"name": "a", "type": ["null", "string"], "default": None,
                                "doc": "A.", "sharing": "none"})
    _edit_path = scratch / "tax" / "clearance_issued.avsc"
    raw = json.loads(_edit_path.read_text(encoding="utf-8"))
    raw["fields"][-1]["type"] = ["null", "int"]
    _edit_path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(SchemaError, match="already released with another canonical form"):
        schemas.release(scratch, "tax.clearance_issued")


def test_command_line_check(scratch: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    from exchange.compat import main

    monkeypatch.setattr("sys.argv", ["compat", str(scratch)])
    assert main() == 0
    assert "BACKWARD_TRANSITIVE ok" in capsys.readouterr().out
    _write_version(scratch, 2, {"name": "stamp", "type": "string", "doc": "Required.",
                                "sharing": "none"})
    assert main() == 1
    assert "stamp: field added without a default" in capsys.readouterr().out
