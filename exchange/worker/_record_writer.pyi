"""The unified record's Avro writer in C (_record_writer.c); see records_codec.encode."""

from collections.abc import Callable, Mapping
from typing import Any

def write(record: dict[str, Any], header: bytes, values: Mapping[str, bytes],
          completeness: Mapping[bytes, bytes], dumps: Callable[..., bytes],
          sort_keys: int) -> bytes | None: ...
