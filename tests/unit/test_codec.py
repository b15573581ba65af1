"""The codec: single-object framing, round trips, every kind of bad input and its message."""

from __future__ import annotations

import copy
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st
from schema_samples import sample_record

from exchange.codec import MAGIC, Codec, decode, encode, validate, validate_identifiers
from exchange.errors import DecodeError, UnknownSchema, ValidationError
from exchange.identifiers import corrupt_credit_code_check, corrupt_resident_id_check
from exchange.schemas import SchemaRegistry, default_registry

pytestmark = pytest.mark.unit

REGISTRY = default_registry()
CODEC = Codec(REGISTRY)
EVENT_TYPES = REGISTRY.event_types()


def sample(event_type: str, seed: int = 0, **kw: Any) -> dict[str, Any]:
    return sample_record(REGISTRY.event(event_type), seed, **kw)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize("fill_optional", [True, False])
def test_round_trip_every_event_type(event_type: str, fill_optional: bool) -> None:
    record = sample(event_type, fill_optional=fill_optional)
    data = CODEC.encode(event_type, record)
    assert data[:2] == MAGIC
    assert data[2:10] == REGISTRY.event(event_type).fingerprint
    assert CODEC.decode(data) == (event_type, record)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_body_is_the_standard_avro_encoding(event_type: str) -> None:
    """Our compiled writer's bytes equal fastavro's, and fastavro reads them back."""
    record = sample(event_type, seed=7)
    schema = REGISTRY.event(event_type).schema
    reference = io.BytesIO()
    schemaless_writer(reference, schema, record)
    body = CODEC.encode(event_type, record)[10:]
    assert body == reference.getvalue()
    assert schemaless_reader(io.BytesIO(body), schema) == record


@settings(max_examples=60, deadline=None)
@given(event_type=st.sampled_from(EVENT_TYPES), seed=st.integers(0, 10**9),
       fill=st.booleans())
def test_round_trip_generated(event_type: str, seed: int, fill: bool) -> None:
    record = sample(event_type, seed, fill_optional=fill)
    assert CODEC.decode(CODEC.encode(event_type, record)) == (event_type, record)


def test_module_level_functions_use_the_default_registry() -> None:
    record = sample("tax.taxpayer_registered")
    validate("tax.taxpayer_registered", record)
    assert decode(encode("tax.taxpayer_registered", record)) == ("tax.taxpayer_registered", record)
    data = encode("tax.taxpayer_registered", record, registry=REGISTRY)
    assert decode(data, registry=REGISTRY) == ("tax.taxpayer_registered", record)


def test_module_level_functions_honour_the_settings_size_limit() -> None:
    from exchange.settings import load_settings

    record = sample("market.established")
    with pytest.raises(ValidationError, match="limit of 100 bytes"):
        encode("market.established", record, registry=REGISTRY,
               settings=load_settings(max_event_bytes=100))


def test_validate_identifiers_of_a_decoded_record() -> None:
    """A department that skipped validation: the consumer finds the bad code and quarantines."""
    record = sample("realestate.unit_registered", seed=5)
    person = {"name": "李四", "owner_type": "PERSON", "credit_code": None,
              "id_number": corrupt_resident_id_check("110101199003071234"),
              "share_percent": Decimal("10.00")}
    record["owners"] = [*record["owners"], person]
    event = REGISTRY.event("realestate.unit_registered")
    body = io.BytesIO()
    schemaless_writer(body, event.schema, record)  # fastavro alone: no identifier rules
    event_type, decoded = decode(MAGIC + event.fingerprint + body.getvalue(), registry=REGISTRY)
    with pytest.raises(ValidationError) as info:
        validate_identifiers(event_type, decoded, registry=REGISTRY)
    assert info.value.field == f"owners[{len(record['owners']) - 1}].id_number"
    decoded["owners"].pop()
    validate_identifiers(event_type, decoded, registry=REGISTRY)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_released_version_decodes_with_the_current_reader(event_type: str) -> None:
    event = REGISTRY.event(event_type)
    assert event.versions, "at least v1 is released"
    for version in event.versions:
        record = sample(event_type, seed=version.version)
        body = io.BytesIO()
        schemaless_writer(body, version.schema, record)
        data = MAGIC + version.fingerprint + body.getvalue()
        decoded_type, decoded = CODEC.decode(data)
        assert decoded_type == event_type
        assert decoded == record


def _set(record: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(record)
    target = out
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


_DELETE = object()

# (event type, path to change, new value, field named in the error, words in the rule)
BAD_RECORDS = [
    ("social.employees_enrolled", ("employee_count",), "12", "employee_count", "expected int"),
    ("social.employees_enrolled", ("employee_count",), 1.7, "employee_count", "expected int"),
    ("social.employees_enrolled", ("employee_count",), 2**31, "employee_count", "expected int"),
    ("market.deregistered", ("simplified",), "no", "simplified", "expected boolean"),
    ("market.deregistered", ("reason",), _DELETE, "reason", "missing"),
    ("market.deregistered", ("extra_field",), "x", "extra_field", "not a field"),
    ("market.established", ("registered_capital",), "abc", "registered_capital",
     "expected decimal with scale 2, got 'abc'"),
    ("market.established", ("registered_capital",), Decimal("1.005"), "registered_capital",
     "scale 3"),
    ("market.established", ("registered_capital",), 100.5, "registered_capital",
     "expected decimal with scale 2"),
    ("market.established", ("registered_capital",), Decimal("1e17"), "registered_capital",
     "precision 18"),
    ("market.established", ("entity_type",), "BANANA", "entity_type", "expected one of"),
    ("market.established", ("established_on",), "yesterday", "established_on", "date"),
    ("market.changed", ("name",), 5, "name", "expected string"),
    ("market.established", ("envelope", "occurred_at"), "now", "envelope.occurred_at",
     "instant"),
    ("market.established", ("envelope", "event_id"), "evt-1", "envelope.event_id", "UUID"),
    ("market.established", ("envelope", "department"), "TAX", "envelope.department",
     "must be MARKET"),
    ("market.established", ("envelope", "department"), "POLICE", "envelope.department",
     "expected one of"),
    ("market.established", ("envelope", "key"), "913101040000000000", "envelope.key",
     "must equal credit_code"),
    ("realestate.unit_registered", ("owners",), "nobody", "owners", "expected an array"),
    ("realestate.unit_registered", ("owners", 0, "share_percent"), Decimal("100.001"),
     "owners[0].share_percent", "scale 3"),
]


@pytest.mark.parametrize(("event_type", "path", "value", "field", "words"), BAD_RECORDS)
def test_bad_records_name_the_field_and_the_rule(
    event_type: str, path: tuple[Any, ...], value: Any, field: str, words: str
) -> None:
    record = _set(sample(event_type), path, value)
    with pytest.raises(ValidationError) as info:
        CODEC.encode(event_type, record)
    assert info.value.event_type == event_type
    assert info.value.field == field
    assert words in info.value.rule
    with pytest.raises(ValidationError):
        CODEC.validate(event_type, record)


def test_invalid_credit_code_is_refused_with_the_check_that_failed() -> None:
    record = sample("tax.clearance_issued")
    bad = corrupt_credit_code_check(record["credit_code"])
    record["credit_code"] = record["envelope"]["key"] = bad
    with pytest.raises(ValidationError) as info:
        CODEC.encode("tax.clearance_issued", record)
    assert info.value.field == "credit_code"
    assert "final check" in info.value.rule
    assert isinstance(info.value.__cause__.__cause__, Exception)  # the InvalidIdentifier


def test_lower_case_key_is_refused_not_normalised() -> None:
    record = sample("tax.clearance_issued")
    record["credit_code"] = record["envelope"]["key"] = record["credit_code"].lower()
    if record["credit_code"] == record["credit_code"].upper():
        pytest.skip("sample code has no letters")  # pragma: no cover
    with pytest.raises(ValidationError, match="lower-case"):
        CODEC.encode("tax.clearance_issued", record)


def test_invalid_nested_resident_id_names_the_array_item_and_is_masked() -> None:
    record = sample("realestate.contract_filed", seed=3)
    buyers = record["buyers"]
    buyers.append({"name": "张三", "owner_type": "PERSON", "credit_code": None,
                   "id_number": corrupt_resident_id_check("110101199003071234"),
                   "share_percent": Decimal("50.00")})
    with pytest.raises(ValidationError) as info:
        CODEC.encode("realestate.contract_filed", record)
    assert info.value.field == f"buyers[{len(buyers) - 1}].id_number"
    assert "MOD 11-2" in info.value.rule
    assert "19900307" not in str(info.value)  # the birth date is not in the message


def test_oversize_event_is_refused() -> None:
    small = Codec(REGISTRY, max_event_bytes=200)
    record = sample("market.deregistered")
    record["reason"] = "理由" * 100
    with pytest.raises(ValidationError, match="exceeds the limit of 200 bytes"):
        small.encode("market.deregistered", record)


def test_unknown_event_type() -> None:
    with pytest.raises(UnknownSchema, match="market.nonexistent"):
        CODEC.encode("market.nonexistent", {})


def _message() -> bytes:
    return CODEC.encode("market.established", sample("market.established"))


def test_wrong_magic() -> None:
    with pytest.raises(DecodeError, match="magic"):
        CODEC.decode(b"\x00\x01" + _message()[2:])
    with pytest.raises(DecodeError, match="magic"):
        CODEC.decode(b"\xc3")


def test_unknown_fingerprint_is_named() -> None:
    data = MAGIC + bytes.fromhex("0102030405060708") + _message()[10:]
    with pytest.raises(UnknownSchema, match="0102030405060708"):
        CODEC.decode(data)


@pytest.mark.parametrize("cut", [1, 5, 40])
def test_truncated_body(cut: int) -> None:
    data = _message()
    with pytest.raises(DecodeError, match="market.established"):
        CODEC.decode(data[:-cut])


def test_trailing_bytes() -> None:
    with pytest.raises(DecodeError, match="trailing"):
        CODEC.decode(_message() + b"\x00")


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_avro_json_round_trip(event_type: str) -> None:
    record = sample(event_type, seed=11)
    obj = CODEC.to_json(event_type, record)
    line = json.dumps({"event_type": event_type, "event": obj}, ensure_ascii=False)
    parsed = json.loads(line)
    assert CODEC.from_json(parsed["event_type"], parsed["event"]) == record


def test_json_form_uses_avro_union_notation() -> None:
    record = sample("market.changed", fill_optional=False)
    record["name"] = "新名称有限公司"
    obj = CODEC.to_json("market.changed", record)
    assert obj["name"] == {"string": "新名称有限公司"}
    assert obj["business_scope"] is None


def test_from_json_errors_name_the_field() -> None:
    obj = CODEC.to_json("tax.clearance_issued", sample("tax.clearance_issued"))
    with pytest.raises(ValidationError) as info:
        CODEC.from_json("tax.clearance_issued", {**obj, "bogus": 1})
    assert info.value.field == "bogus"
    del obj["certificate_number"]
    with pytest.raises(ValidationError) as info:
        CODEC.from_json("tax.clearance_issued", obj)
    assert info.value.field == "certificate_number"


def test_fastavro_fallback_for_schemas_the_compiled_writer_does_not_cover(
    tmp_path: Any,
) -> None:
    """A schema outside the compiled writer's subset still validates, through fastavro."""
    import shutil

    from exchange import schemas

    root = tmp_path / "schemas"
    shutil.copytree(REGISTRY.root, root)
    path = root / "seal" / "seal_engraved.avsc"
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["version"] = 2
    raw["fields"].append({"name": "note", "type": ["null", "string", "int"], "default": None,
                          "doc": "A free note.", "sharing": "none"})
    path.write_text(json.dumps(raw), encoding="utf-8")
    schemas.release(root, "seal.seal_engraved")
    codec = Codec(SchemaRegistry.load(root))
    record = sample("seal.seal_engraved")
    record["note"] = 5
    assert codec.decode(codec.encode("seal.seal_engraved", record))[1] == record
    record["note"] = 1.5
    with pytest.raises(ValidationError) as info:
        codec.encode("seal.seal_engraved", record)
    assert info.value.field == "note"
    record["note"] = None
    record["credit_code"] = record["envelope"]["key"] = corrupt_credit_code_check(
        record["credit_code"])
    with pytest.raises(ValidationError) as info:
        codec.encode("seal.seal_engraved", record)
    assert info.value.field == "credit_code"


@pytest.mark.parametrize(("value", "expected"), [
    (0, "00"), (-1, "01"), (1, "02"), (63, "7e"), (-64, "7f"), (64, "8001"), (-65, "8101"),
    (8191, "fe7f"), (8192, "808001"), (2**31 - 1, "feffffff0f"), (-(2**31), "ffffffff0f"),
    (-(2**63), "ffffffffffffffffff01"),
])
def test_zigzag_varint_table(value: int, expected: str) -> None:
    from exchange.avro_writer import write_long

    buf = bytearray()
    write_long(value, buf)
    assert buf.hex() == expected


@settings(max_examples=150, deadline=None)
@given(count=st.integers(-(2**31), 2**31 - 1),
       amount=st.decimals(min_value=Decimal("-9999999999999999.99"),
                          max_value=Decimal("9999999999999999.99"), places=2),
       text=st.text(max_size=300))
def test_compiled_writer_matches_fastavro_on_wide_values(count: int, amount: Decimal,
                                                         text: str) -> None:
    for event_type, changes in [
        ("social.employees_enrolled", {"employee_count": count}),
        ("realestate.mortgage_registered", {"secured_amount": amount, "mortgagee": text}),
    ]:
        record = {**sample(event_type), **changes}
        reference = io.BytesIO()
        schemaless_writer(reference, REGISTRY.event(event_type).schema, record)
        data = CODEC.encode(event_type, record)
        assert data[10:] == reference.getvalue()
        assert CODEC.decode(data)[1] == record


def test_a_renamed_field_is_named_as_missing() -> None:
    """As many keys as fields, one of them unknown: the missing field is what is reported."""
    record = sample("market.deregistered")
    record["reasons"] = record.pop("reason")
    with pytest.raises(ValidationError) as info:
        CODEC.encode("market.deregistered", record)
    assert (info.value.field, info.value.rule) == ("reason", "missing (required, no default)")


def test_an_omitted_optional_field_takes_its_default() -> None:
    record = sample("market.changed", fill_optional=True)
    del record["business_scope"]
    assert CODEC.decode(CODEC.encode("market.changed", record))[1] == {
        **record, "business_scope": None}
    record["scope"] = "x"  # as many keys as fields again, one unknown
    with pytest.raises(ValidationError) as info:
        CODEC.encode("market.changed", record)
    assert (info.value.field, info.value.rule) == ("scope", "not a field of the schema")
