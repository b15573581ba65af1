"""Valid sample records built generically from a schema (used by the schema and codec tests)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from exchange import identifiers
from exchange.schemas import EventSchema

REGION = "510104"


def _identifier(kind: str, rng: random.Random) -> str:
    if kind == "credit_code":
        return identifiers.make_credit_code(rng, REGION)
    if kind == "unit_number":
        return identifiers.make_unit_number(rng, REGION)
    if kind == "case_id":
        return f"ST-20240301-{rng.getrandbits(48):012x}"
    return identifiers.make_resident_id(rng, REGION, dt.date(1990, 5, 17))


def sample_value(schema: Any, rng: random.Random, names: dict[str, Any], field: Mapping[str, Any],
                 *, fill_optional: bool) -> Any:
    """A valid value of ``schema`` (expanded JSON form) for ``field``."""
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        if not fill_optional or not branches:
            return None
        return sample_value(branches[0], rng, names, field, fill_optional=fill_optional)
    if isinstance(schema, str) and schema in names:
        return sample_value(names[schema], rng, names, field, fill_optional=fill_optional)
    if isinstance(schema, str):
        schema = {"type": schema}
    kind = schema["type"]
    if kind in ("record", "enum"):
        names[schema["name"]] = schema
    if kind == "record":
        return {f["name"]: sample_value(f["type"], rng, names, f, fill_optional=fill_optional)
                for f in schema["fields"]}
    if kind == "enum":
        return rng.choice(schema["symbols"])
    if kind == "array":
        return [sample_value(schema["items"], rng, names, field, fill_optional=fill_optional)
                for _ in range(rng.randint(1, 3))]
    logical = schema.get("logicalType")
    if logical == "decimal":
        scale = schema["scale"]
        return Decimal(rng.randint(0, 10 ** (schema["precision"] - 2))).scaleb(-scale)
    if logical == "date":
        return dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 700))
    if logical == "timestamp-millis":
        return dt.datetime(2024, 3, 1, 9, 30, 15, 123000, tzinfo=dt.UTC)
    if field.get("identifier"):
        return _identifier(field["identifier"], rng)
    if field.get("format") == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128)))
    return {"string": lambda: f"样本 {field.get('name')} {rng.randint(0, 999)}",
            "int": lambda: rng.randint(0, 5000),
            "long": lambda: rng.randint(0, 2**40),
            "boolean": lambda: rng.random() < 0.5,
            "bytes": lambda: rng.randbytes(4)}[kind]()


def sample_record(event: EventSchema, seed: int = 0, *, fill_optional: bool = True
                  ) -> dict[str, Any]:
    """A record of ``event`` that the codec accepts: envelope consistent with the key field."""
    rng = random.Random(f"{event.event_type}/{seed}")
    record = sample_value(dict(event.source), rng, {}, {}, fill_optional=fill_optional)
    record["envelope"]["department"] = event.department.upper()
    record["envelope"]["key"] = record[event.key_field]
    assert isinstance(record, dict)
    return record
