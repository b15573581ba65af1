"""What a department producer that does not validate puts on the bus (tests and demos only).

The bus must survive such producers: their messages are dead-lettered with a reason by the
worker. This module makes those messages on purpose, the way a careless producer would.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

from fastavro import schemaless_writer

from exchange.codec import MAGIC
from exchange.schemas import SchemaRegistry
from producers.publisher import headers_for


def encode_unchecked(registry: SchemaRegistry, event_type: str, record: Mapping[str, Any]) -> bytes:
    """Avro bytes without our validation; JSON text when even fastavro refuses the record."""
    info = registry.event(event_type)
    out = io.BytesIO()
    out.write(MAGIC + info.fingerprint)
    try:
        schemaless_writer(out, info.schema, dict(record))
    except Exception:  # noqa: BLE001 - a careless producer falls back to sending JSON
        return json.dumps(record, default=str, ensure_ascii=False).encode()
    return out.getvalue()


def wire_headers(
    registry: SchemaRegistry, event_type: str, record: Mapping[str, Any]
) -> list[tuple[str, bytes]]:
    """The headers a department producer sets: :func:`producers.publisher.headers_for`."""
    return headers_for(registry.event(event_type), record.get("envelope") or {})
