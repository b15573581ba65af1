"""The unified record's Avro writer and reader in C (_record_codec.c); see records_codec."""

from collections.abc import Callable, Mapping
from typing import Any

def write(record: dict[str, Any], header: bytes, values: Mapping[str, bytes],
          completeness: Mapping[bytes, bytes], dumps: Callable[..., bytes],
          sort_keys: int) -> bytes | None: ...

def read(data: bytes, header: bytes,
         loads: Callable[[bytes], Any]) -> dict[str, Any] | None: ...
